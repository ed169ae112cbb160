/// The hyperparameters of one SGD step (`ComputeBackend.sgdUpdate`), as `torch.optim.SGD` names them.
///
/// d = g + weightDecay·p; buf = momentum·buf + (1 - dampening)·d; d = nesterov ? d + momentum·buf : buf;
/// p -= learningRate·d. With momentum 0 there is no buffer and p -= learningRate·(g + weightDecay·p).
public struct SGDAttributes: Equatable, Sendable {
    public var learningRate: Float
    public var momentum: Float
    /// torch's dampening; a buffer that starts at zero gives torch's first step only when it is 0.
    public var dampening: Float
    public var nesterov: Bool
    public var weightDecay: Float

    public init(learningRate: Float, momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
        (self.learningRate, self.momentum, self.dampening, self.nesterov, self.weightDecay) =
            (learningRate, momentum, dampening, nesterov, weightDecay)
    }
}

/// The hyperparameters of one Adam or AdamW step (`ComputeBackend.adamUpdate`), as `torch.optim.Adam(W)`.
///
/// g += weightDecay·p unless decoupled; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
/// p = p·(decoupled ? 1 - lr·wd : 1) - lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps).
public struct AdamAttributes: Equatable, Sendable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    /// AdamW (Loshchilov & Hutter 2019): decay shrinks the parameter instead of joining the gradient.
    public var decoupled: Bool
    /// The 1-based step count t of this parameter, for the bias corrections.
    public var step: Int

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0, decoupled: Bool = false, step: Int) {
        (self.learningRate, self.beta1, self.beta2, self.epsilon, self.weightDecay, self.decoupled, self.step) =
            (learningRate, beta1, beta2, epsilon, weightDecay, decoupled, step)
    }
}
