/// An operation fused onto a convolution's output before it is stored: oneDNN's post-ops, applied
/// in order (`[.add(residual), .relu]` is the end of a v1 residual unit, relu(conv(x) + b + residual)).
public enum PostOp {
    /// Adds a tensor of the output's shape (the residual).
    case add(Tensor)
    /// max(·, 0).
    case relu
}

/// Whether a forward op's output will be differentiated (oneDNN's forward_training or
/// forward_inference): inference may keep reordered weights and pick Winograd.
public enum Propagation: String, Hashable, Codable, Sendable {
    case training, inference
}

/// Everything about a forward convolution besides its tensors: the window, the fused post-ops and
/// the propagation kind, as one value instead of a row of flags.
public struct ConvolutionAttributes {
    public var geometry: WindowGeometry
    public var postOps: [PostOp]
    public var propagation: Propagation

    public init(geometry: WindowGeometry, postOps: [PostOp] = [], propagation: Propagation = .inference) {
        (self.geometry, self.postOps, self.propagation) = (geometry, postOps, propagation)
    }
}
