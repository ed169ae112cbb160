import ResNetEngine

/// Adam (Kingma & Ba 2015) with PyTorch's `torch.optim.Adam` semantics: L2 weight decay added to the
/// gradient (g += wd·p), bias-corrected moments, p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps).
/// `AdamW` reuses this update with decoupled decay instead.
public class Adam: Optimizer {
    public var learningRate: Float
    public var parameterLearningRates: [String: Float] = [:]
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    public let decayFilter: WeightDecayFilter
    public let parameters: [(name: String, tensor: Tensor)]
    /// True for AdamW: decay multiplies the parameter (p *= 1 - lr·wd) instead of joining the gradient.
    let decoupledWeightDecay: Bool
    private let expAvg: [Tensor], expAvgSq: [Tensor]
    /// Steps taken per parameter, as PyTorch keeps them: a parameter frozen for a while
    /// gets its own bias correction when it is unfrozen.
    private let stepCounts: [Tensor]
    private let buffers: NamedBuffers

    public convenience init(parameters: [(name: String, tensor: Tensor)], learningRate: Float = 1e-3,
                            beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                            weightDecay: Float = 0, decayFilter: WeightDecayFilter = .all) {
        self.init(parameters: parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                  weightDecay: weightDecay, decayFilter: decayFilter, decoupled: false)
    }

    init(parameters: [(name: String, tensor: Tensor)], learningRate: Float, beta1: Float, beta2: Float,
         epsilon: Float, weightDecay: Float, decayFilter: WeightDecayFilter, decoupled: Bool) {
        precondition((0..<1).contains(beta1) && (0..<1).contains(beta2), "Adam betas must lie in [0, 1)")
        precondition(learningRate >= 0 && epsilon >= 0 && weightDecay >= 0, "Adam hyperparameters must be non-negative")
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decayFilter = decayFilter
        self.decoupledWeightDecay = decoupled
        var named = NamedBuffers()
        var m: [Tensor] = [], v: [Tensor] = [], t: [Tensor] = []
        for (name, tensor) in parameters {
            t.append(named.add("\(name).step", shape: [1]))
            m.append(named.add("\(name).exp_avg", shape: tensor.shape))
            v.append(named.add("\(name).exp_avg_sq", shape: tensor.shape))
        }
        expAvg = m; expAvgSq = v; stepCounts = t
        buffers = named
    }

    public func step() {
        for (index, (name, parameter)) in parameters.enumerated() {
            guard let grad = gradient(of: parameter, name: name) else { continue }
            // The step counter is bookkeeping, not tensor arithmetic: it lives in a tensor only so checkpoints keep it.
            let t = stepCounts[index].withMutableHostValues { count in count[0] += 1; return count[0] }
            let decays = decayFilter.applies(to: parameter) && weightDecay != 0
            Backend.current.adamUpdate(parameter, gradient: grad, expAvg: expAvg[index], expAvgSq: expAvgSq[index],
                                       attributes: AdamAttributes(learningRate: learningRate(for: name), beta1: beta1, beta2: beta2,
                                                                  epsilon: epsilon, weightDecay: decays ? weightDecay : 0,
                                                                  decoupled: decoupledWeightDecay, step: Int(t)))
        }
    }

    public var state: [String: Tensor] { buffers.snapshot() }

    public func loadState(_ state: [String: Tensor]) throws { try buffers.load(state) }
}

/// AdamW (Loshchilov & Hutter 2019) as `torch.optim.AdamW`: decoupled decay p *= 1 - lr·wd before
/// the Adam step, so decay is not rescaled by the adaptive denominator. PyTorch's default wd is 0.01.
public final class AdamW: Adam {
    public init(parameters: [(name: String, tensor: Tensor)], learningRate: Float = 1e-3,
                beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0.01, decayFilter: WeightDecayFilter = .all) {
        super.init(parameters: parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                   weightDecay: weightDecay, decayFilter: decayFilter, decoupled: true)
    }
}

import Foundation
