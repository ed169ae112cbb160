import Foundation

/// Something that gives the learning rate for a point in training.
///
/// `epoch` counts from 0 and `step` is the batch index within that epoch, so schedules can move
/// per epoch (step decay) or per batch (cosine, warmup) from the same call.
public protocol LearningRateSchedule {
    func learningRate(base: Float, epoch: Int, step: Int, stepsPerEpoch: Int) -> Float
}

/// The learning-rate schedules, as values: `Codable` so checkpoints save them, parseable from
/// CLI strings (`LRSchedule(parsing:)`). Step decays move at epoch boundaries; cosine and warmup per batch.
public indirect enum LRSchedule: LearningRateSchedule, Codable, Equatable, Sendable {
    /// The base rate throughout.
    case constant
    /// base·gamma^⌊epoch/every⌋, as `torch.optim.lr_scheduler.StepLR` (ResNet paper: ÷10 every 30 epochs).
    case step(every: Int, gamma: Float)
    /// base·gamma^(milestones passed), as `MultiStepLR` (Goyal et al. 2017: 30, 60, 80 for 90 epochs).
    case multiStep(milestones: [Int], gamma: Float)
    /// minimum + (base - minimum)·(1 + cos(π·t/epochs))/2 with t the fractional epoch, as PyTorch's
    /// `CosineAnnealingLR` closed form (Loshchilov & Hutter 2017, SGDR without restarts); `minimum` is absolute.
    case cosine(epochs: Int, minimum: Float)
    /// Linear warmup (Goyal et al. 2017): over the first `epochs` (fractional, per batch) the inner
    /// schedule's rate is multiplied by a factor rising from `startFactor` to 1, as PyTorch's `LinearLR`
    /// chained with another scheduler. The inner schedule sees the true epoch, so milestones stay absolute.
    case warmup(epochs: Int, startFactor: Float, then: LRSchedule)
    /// minimum + (base - minimum)·(1 - t/epochs): linear decay to `minimum` (absolute), per batch, as
    /// PyTorch's `LinearLR(end_factor=minimum/base)` over the run; the decay of BERT (Devlin et al.
    /// 2019) and of many fine-tuning recipes.
    case linear(epochs: Int, minimum: Float)
    /// The 1cycle policy (Smith and Topin 2018, "Super-Convergence"), as PyTorch's `OneCycleLR` with
    /// its defaults in continuous form: from base/25 up to base over the first `rise` of the run, then
    /// down to base/25/1e4, both by cosine annealing (momentum is not cycled).
    case oneCycle(epochs: Int, rise: Float)

    public func learningRate(base: Float, epoch: Int, step: Int = 0, stepsPerEpoch: Int = 1) -> Float {
        let t = Double(epoch) + (stepsPerEpoch > 0 ? Double(step) / Double(stepsPerEpoch) : 0)
        return Float(rate(base: Double(base), epoch: epoch, t: t))
    }

    /// Evaluated in double so the gamma powers and the cosine do not round twice.
    private func rate(base: Double, epoch: Int, t: Double) -> Double {
        switch self {
        case .constant:
            return base
        case .step(let every, let gamma):
            return base * pow(Double(gamma), Double(epoch / max(every, 1)))
        case .multiStep(let milestones, let gamma):
            return base * pow(Double(gamma), Double(milestones.filter { $0 <= epoch }.count))
        case .cosine(let epochs, let minimum):
            let progress = min(t / Double(max(epochs, 1)), 1)
            return Double(minimum) + (base - Double(minimum)) * (1 + cos(Double.pi * progress)) / 2
        case .linear(let epochs, let minimum):
            let progress = min(t / Double(max(epochs, 1)), 1)
            return Double(minimum) + (base - Double(minimum)) * (1 - progress)
        case .oneCycle(let epochs, let rise):
            // torch: div_factor 25, final_div_factor 1e4, anneal_strategy cos.
            let initial = base / 25, final = initial / 1e4, pct = Double(rise)
            let progress = min(t / Double(max(epochs, 1)), 1)
            func anneal(_ start: Double, _ end: Double, _ f: Double) -> Double { end + (start - end) / 2 * (cos(Double.pi * f) + 1) }
            return progress < pct ? anneal(initial, base, progress / pct) : anneal(base, final, (progress - pct) / (1 - pct))
        case .warmup(let epochs, let startFactor, let inner):
            let innerRate = inner.rate(base: base, epoch: epoch, t: t)
            guard epochs > 0, t < Double(epochs) else { return innerRate }
            let start = Double(startFactor)
            return innerRate * (start + (1 - start) * t / Double(epochs))
        }
    }
}
