/// Everything about a batch normalization besides its tensors: epsilon and whether a ReLU is fused
/// after it (oneDNN's fuse_norm_relu, which keeps a bit mask instead of the output for backward).
public struct BatchNormAttributes: Equatable, Sendable {
    public var epsilon: Float
    public var fusedReLU: Bool

    public init(epsilon: Float = 1e-5, fusedReLU: Bool = false) {
        (self.epsilon, self.fusedReLU) = (epsilon, fusedReLU)
    }
}

/// Which statistics a batch norm normalized with, for its backward: the batch's own (training; they
/// depend on the input, so the gradient has the extra terms) or fixed running ones (a frozen layer).
public enum NormalizationStatistics: Sendable {
    case batch, running
}
