import ResNetEngine

/// The two things done to gradients between backward and the optimizer step (averaging over
/// accumulated micro-batches, clipping): the only places here that write gradients in place.
enum GradientArithmetic {
    /// Multiplies every accumulated gradient by `factor`.
    static func scale(_ parameters: [(name: String, tensor: Tensor)], by factor: Float) {
        let backend = Backend.current
        for case let grad? in parameters.map(\.tensor.grad) { backend.scaleInPlace(grad, by: factor) }
    }

    /// The sum of the squares of every gradient, accumulated in Double in parameter order.
    static func sumOfSquares(_ parameters: [(name: String, tensor: Tensor)]) -> Double {
        Backend.current.sumOfSquares(parameters.compactMap(\.tensor.grad))
    }
}
