/// Lowers the learning rate when a validation metric stops improving, with the rules of PyTorch's
/// `torch.optim.lr_scheduler.ReduceLROnPlateau` (Keras's callback is the same idea).
///
/// Call `update(metric:)` once per epoch. After more than `patience` epochs without improvement by the
/// relative `threshold`, the rate is multiplied by `factor` (never below `minimumLearningRate`);
/// then `cooldown` epochs pass in which bad epochs are not counted.
public final class ReduceLROnPlateau {
    public enum Mode: String, Codable, Sendable {
        /// Lower is better (a loss).
        case min
        /// Higher is better (an accuracy).
        case max
    }

    public enum ThresholdMode: String, Codable, Sendable {
        /// Better means beyond best·(1 ∓ threshold) (PyTorch's default).
        case relative
        /// Better means beyond best ∓ threshold (Keras's `min_delta`).
        case absolute
    }

    /// The settings, as a value that checkpoints and configurations can save.
    public struct Configuration: Codable, Equatable, Sendable {
        public var mode: Mode
        public var factor: Float
        public var patience: Int
        public var threshold: Double
        public var thresholdMode: ThresholdMode
        public var cooldown: Int
        public var minimumLearningRate: Float
        /// Reductions smaller than this are skipped, as PyTorch's `eps`.
        public var epsilon: Float

        public init(mode: Mode = .min, factor: Float = 0.1, patience: Int = 10, threshold: Double = 1e-4,
                    thresholdMode: ThresholdMode = .relative, cooldown: Int = 0, minimumLearningRate: Float = 0,
                    epsilon: Float = 1e-8) {
            precondition(factor > 0 && factor < 1, "ReduceLROnPlateau factor must lie in (0, 1)")
            precondition(patience >= 0 && cooldown >= 0 && threshold >= 0, "patience, cooldown and threshold must be non-negative")
            self.mode = mode
            self.factor = factor
            self.patience = patience
            self.threshold = threshold
            self.thresholdMode = thresholdMode
            self.cooldown = cooldown
            self.minimumLearningRate = minimumLearningRate
            self.epsilon = epsilon
        }
    }

    public let configuration: Configuration
    /// The current learning rate: the initial one until the first reduction.
    public private(set) var learningRate: Float
    /// The best metric so far (±infinity before the first update).
    public private(set) var best: Double
    public private(set) var badEpochs = 0
    public private(set) var cooldownRemaining = 0

    public init(learningRate: Float, configuration: Configuration = Configuration()) {
        self.learningRate = learningRate
        self.configuration = configuration
        best = configuration.mode == .min ? .infinity : -.infinity
    }

    /// Records one epoch's metric; returns the new learning rate when it was reduced, nil otherwise.
    @discardableResult
    public func update(metric: Double) -> Float? {
        if isBetter(metric) {
            best = metric
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownRemaining > 0 {
            cooldownRemaining -= 1
            badEpochs = 0
        }
        guard badEpochs > configuration.patience else { return nil }
        cooldownRemaining = configuration.cooldown
        badEpochs = 0
        let reduced = max(learningRate * configuration.factor, configuration.minimumLearningRate)
        guard learningRate - reduced > configuration.epsilon else { return nil }
        learningRate = reduced
        return reduced
    }

    private func isBetter(_ metric: Double) -> Bool {
        let t = configuration.threshold
        switch (configuration.mode, configuration.thresholdMode) {
        case (.min, .relative): return metric < best * (1 - t)
        case (.min, .absolute): return metric < best - t
        case (.max, .relative): return metric > best * (1 + t)
        case (.max, .absolute): return metric > best + t
        }
    }

    /// The counters and current rate, for a checkpoint (the configuration is saved separately as a value).
    public var state: [String: Double] {
        ["learning_rate": Double(learningRate), "best": best, "bad_epochs": Double(badEpochs),
         "cooldown_remaining": Double(cooldownRemaining)]
    }

    /// Restores `state`; throws naming the first missing key.
    public func loadState(_ state: [String: Double]) throws {
        for key in ["learning_rate", "best", "bad_epochs", "cooldown_remaining"] where state[key] == nil {
            throw OptimizerStateError.missingKey(key)
        }
        learningRate = Float(state["learning_rate"]!)
        best = state["best"]!
        badEpochs = Int(state["bad_epochs"]!)
        cooldownRemaining = Int(state["cooldown_remaining"]!)
    }
}
