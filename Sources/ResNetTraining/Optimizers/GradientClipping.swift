import ResNetEngine

/// Gradient clipping by the global norm (`--clip-grad-norm MAX`), as `torch.nn.utils.clip_grad_norm_`:
/// the L2 norm of all gradients together (Pascanu, Mikolov and Bengio 2013, "On the difficulty of
/// training recurrent neural networks"); above MAX, every gradient is scaled by MAX / (norm + 1e-6),
/// so one bad batch cannot throw the weights far.
enum GradientClipping {
    /// Clips in place; returns the norm before clipping.
    @discardableResult
    static func clip(_ parameters: [(name: String, tensor: Tensor)], maxNorm: Double) -> Double {
        let norm = GradientArithmetic.sumOfSquares(parameters).squareRoot()
        // torch: clip_coef = max_norm / (total_norm + 1e-6), applied when below 1.
        let coefficient = maxNorm / (norm + 1e-6)
        if coefficient < 1 { GradientArithmetic.scale(parameters, by: Float(coefficient)) }
        return norm
    }
}
