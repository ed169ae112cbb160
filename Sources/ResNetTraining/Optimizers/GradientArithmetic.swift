import ResNetEngine

/// The two things done to gradients between backward and the optimizer step (averaging over
/// accumulated micro-batches, clipping): the only places here that write gradients in place.
enum GradientArithmetic {
    /// Multiplies every accumulated gradient by `factor`.
    static func scale(_ parameters: [(name: String, tensor: Tensor)], by factor: Float) {
        for (_, parameter) in parameters {
            guard let grad = parameter.grad else { continue }
            grad.withMutableHostValues { g in for i in 0..<g.count { g[i] *= factor } }
        }
    }

    /// The sum of the squares of every gradient, accumulated in Double.
    static func sumOfSquares(_ parameters: [(name: String, tensor: Tensor)]) -> Double {
        var total = 0.0
        for (_, parameter) in parameters {
            guard let grad = parameter.grad else { continue }
            grad.withHostValues { g in for value in g { total += Double(value) * Double(value) } }
        }
        return total
    }
}
