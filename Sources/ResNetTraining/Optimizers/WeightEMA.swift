import ResNetLayers
import ResNetModels

/// An exponential moving average of a model's weights (Polyak and Juditsky 1992, "Acceleration of
/// Stochastic Approximation by Averaging"), as timm's `ModelEmaV2` keeps it: after every optimizer
/// step, ema = decay * ema + (1 - decay) * value for every parameter and BN running statistic
/// (`num_batches_tracked`, a counter, is copied). The average usually evaluates better than the
/// last weights, so validation, test, `evaluate` and `predict` use it when a run has one.
///
/// The average lives in a second module of the same architecture (`shadow`), so it is evaluated
/// like any model; it never trains.
public final class WeightEMA {
    public let decay: Float
    /// Whether the decay ramps up as min(decay, (1 + t) / (10 + t)) at update t (TensorFlow's
    /// `ExponentialMovingAverage(num_updates:)`), so the initial weights fade within the first steps.
    public let warmup: Bool
    /// The averaged weights, in inference mode.
    public let shadow: Module
    /// (average, live value, averaged or copied) for each state entry, in the model's order.
    private let pairs: [(ema: Tensor, value: Tensor, averaged: Bool)]

    /// Starts the average at `source`'s current values (timm copies the model when the EMA is made).
    public init(source: Module, shadow: Module, decay: Float, warmup: Bool = false) throws {
        precondition(decay.isFinite && (0...1).contains(decay), "EMA decay must be in [0, 1]")
        self.decay = decay
        self.warmup = warmup
        self.shadow = shadow
        let values = source.stateDict(), averages = shadow.stateDict()
        guard Set(values.keys) == Set(averages.keys) else {
            throw TrainingError.invalidOption("the EMA model's state names differ from the model's")
        }
        try shadow.loadStateDict(values)
        shadow.eval()
        pairs = source.stateNames.map { name in (averages[name]!, values[name]!, !name.hasSuffix("num_batches_tracked")) }
    }

    /// An average of `model` in a new model of its configuration.
    public convenience init(of model: ResNet, decay: Float, warmup: Bool = false) throws {
        try self.init(source: model, shadow: try ResNet(model.config), decay: decay, warmup: warmup)
    }

    /// The shadow as the model type it was built from (for evaluation).
    public var model: ResNet { shadow as! ResNet }

    /// The decay of update `step` (0 for the first): `decay`, or its warmup ramp.
    public func decay(atStep step: Int) -> Float {
        warmup ? min(decay, Float(1 + step) / Float(10 + step)) : decay
    }

    /// One step of the average: call after each optimizer step; `step` counts the updates before
    /// this one (the run's optimizer steps, so a resumed run ramps on where it stopped).
    public func update(step: Int) {
        let d = decay(atStep: step)
        for (ema, value, averaged) in pairs {
            if averaged { Self.blend(ema, toward: value, decay: d) } else { ema.assign(value) }
        }
    }

    /// ema = decay * ema + (1 - decay) * value, in place (timm ModelEmaV2's formula, term for term).
    private static func blend(_ ema: Tensor, toward value: Tensor, decay: Float) {
        Backend.current.axpbyInPlace(ema, alpha: decay, value, beta: 1 - decay)
    }

    /// The averaged weights and buffers by name, as a checkpoint file holds them.
    public var state: [String: Tensor] { shadow.stateDict() }

    /// Replaces the average with `state` (a committed EMA file); checked by name and shape first.
    public func load(_ state: [String: Tensor]) throws { try shadow.loadStateDict(state) }
}
