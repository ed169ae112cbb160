import Foundation

/// The optimizer steps, term for term as `SGDAttributes` and `AdamAttributes` define them, in Double
/// on the parameter's own buffer (the gradient and buffers read in its order).
extension ReferenceBackend {
    /// Runs `body(i, p, g, buffers)` for every element, then moves the versions of the parameter and buffers.
    private func step(_ op: String, _ parameter: Tensor, _ gradient: Tensor, _ buffers: [Tensor],
                      _ body: (Int, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>, [UnsafeMutablePointer<Double>]) -> Void) {
        require(op, [parameter, gradient] + buffers)
        precondition(([gradient] + buffers).allSatisfy { $0.count == parameter.count },
                     "\(op): gradient or buffers do not match parameter \(parameter.shape)")
        let layout = parameter.storage.layout
        let g = conformed(gradient, to: layout), b = buffers.map { conformed($0, to: layout) }
        precondition(zip(b, buffers).allSatisfy { $0 === $1 }, "\(op): optimizer buffers must lie like their parameter")
        defer { withExtendedLifetime(g) {} }
        let bp = b.map(\.doubles)
        for i in 0..<parameter.count { body(i, parameter.doubles, g.doubles, bp) }
        for t in [parameter] + buffers { t.storage.markModified() }
    }

    public func sgdUpdate(_ parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor?, attributes a: SGDAttributes) {
        precondition(a.momentum == 0 || momentumBuffer != nil, "SGD with momentum needs a momentum buffer")
        let (lr, mu, wd, keep) = (Double(a.learningRate), Double(a.momentum), Double(a.weightDecay), 1 - Double(a.dampening))
        let buffers = a.momentum == 0 ? [] : [momentumBuffer!]
        step("SGD update", parameter, gradient, buffers) { i, p, g, b in
            var d = g[i] + wd * p[i]
            if mu != 0 {
                b[0][i] = mu * b[0][i] + keep * d
                d = a.nesterov ? d + mu * b[0][i] : b[0][i]
            }
            p[i] -= lr * d
        }
    }

    public func adamUpdate(_ parameter: Tensor, gradient: Tensor, expAvg: Tensor, expAvgSq: Tensor, attributes a: AdamAttributes) {
        precondition(a.step >= 1, "Adam's step count starts at 1")
        let (lr, b1, b2, eps, wd) = (Double(a.learningRate), Double(a.beta1), Double(a.beta2), Double(a.epsilon), Double(a.weightDecay))
        let t = Double(a.step), correction1 = 1 - pow(b1, t), correction2 = 1 - pow(b2, t)
        step("Adam update", parameter, gradient, [expAvg, expAvgSq]) { i, p, g, b in
            let gi = g[i] + (a.decoupled ? 0 : wd * p[i])
            b[0][i] = b1 * b[0][i] + (1 - b1) * gi
            b[1][i] = b2 * b[1][i] + (1 - b2) * gi * gi
            let shrink = a.decoupled ? 1 - lr * wd : 1
            p[i] = p[i] * shrink - lr / correction1 * b[0][i] / (b[1][i].squareRoot() / correction2.squareRoot() + eps)
        }
    }
}
