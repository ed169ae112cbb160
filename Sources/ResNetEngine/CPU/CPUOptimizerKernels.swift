import Foundation

/// Optimizer updates and the in-place arithmetic around them (clipping, accumulation, weight
/// averaging, L2 gradients) as Swift loops over plain float32 buffers, split over oneDNN's OpenMP
/// pool with `parallelChunks`. Each element's arithmetic is written term for term as in PyTorch's
/// single-tensor (non-foreach) kernels, in one fixed order, so results do not depend on the thread count.
extension CPUBackend {
    public func sgdUpdate(_ parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor?, attributes a: SGDAttributes) {
        let t = profiler.begin(); defer { profiler.end(.optimizer, pass: .update, t) }
        requireFloat32("SGD update", parameter, gradient, momentumBuffer)
        precondition(gradient.count == parameter.count && (momentumBuffer?.count ?? parameter.count) == parameter.count,
                     "SGD update: gradient \(gradient.shape) or buffer does not match parameter \(parameter.shape)")
        precondition(a.momentum == 0 || momentumBuffer != nil, "SGD with momentum needs a momentum buffer")
        let (lr, mu, wd, keep, count) = (a.learningRate, a.momentum, a.weightDecay, 1 - a.dampening, parameter.count)
        parameter.withMutableHostValues { p in gradient.withHostValues { g in
            let p = p.baseAddress!, g = g.baseAddress!
            guard mu != 0, let momentumBuffer else {
                parallelChunks(count) { range in
                    for i in range { p[i] -= lr * (g[i] + wd * p[i]) }
                }
                return
            }
            momentumBuffer.withMutableHostValues { buf in
                let buf = buf.baseAddress!
                if a.nesterov {
                    parallelChunks(count) { range in
                        for i in range {
                            let d = g[i] + wd * p[i]
                            let b = mu * buf[i] + keep * d
                            buf[i] = b
                            p[i] -= lr * (d + mu * b)
                        }
                    }
                } else {
                    parallelChunks(count) { range in
                        for i in range {
                            let b = mu * buf[i] + keep * (g[i] + wd * p[i])
                            buf[i] = b
                            p[i] -= lr * b
                        }
                    }
                }
            }
        } }
    }

    public func adamUpdate(_ parameter: Tensor, gradient: Tensor, expAvg: Tensor, expAvgSq: Tensor, attributes a: AdamAttributes) {
        let t = profiler.begin(); defer { profiler.end(.optimizer, pass: .update, t) }
        requireFloat32("Adam update", parameter, gradient, expAvg, expAvgSq)
        precondition([gradient.count, expAvg.count, expAvgSq.count].allSatisfy { $0 == parameter.count },
                     "Adam update: gradient or moments do not match parameter \(parameter.shape)")
        precondition(a.step >= 1, "Adam's step count starts at 1")
        let steps = Double(a.step)
        // Bias corrections in double: 1 - 0.999^t loses digits in float for small t.
        let stepSize = Float(Double(a.learningRate) / (1 - pow(Double(a.beta1), steps)))
        let correction2Sqrt = Float((1 - pow(Double(a.beta2), steps)).squareRoot())
        let l2: Float = a.decoupled ? 0 : a.weightDecay
        let shrink: Float = a.decoupled ? 1 - a.learningRate * a.weightDecay : 1
        let (b1, b2, eps, count) = (a.beta1, a.beta2, a.epsilon, parameter.count)
        parameter.withMutableHostValues { p in gradient.withHostValues { g in
            expAvg.withMutableHostValues { m in expAvgSq.withMutableHostValues { v in
                let p = p.baseAddress!, g = g.baseAddress!, m = m.baseAddress!, v = v.baseAddress!
                parallelChunks(count) { range in
                    for i in range {
                        let gi = g[i] + l2 * p[i]
                        let mi = b1 * m[i] + (1 - b1) * gi
                        let vi = b2 * v[i] + (1 - b2) * gi * gi
                        m[i] = mi
                        v[i] = vi
                        p[i] = p[i] * shrink - stepSize * (mi / (vi.squareRoot() / correction2Sqrt + eps))
                    }
                }
            } }
        } }
    }

    public func axpbyInPlace(_ y: Tensor, alpha: Float, _ x: Tensor, beta: Float) {
        let t = profiler.begin(); defer { profiler.end(.optimizer, pass: .update, t) }
        requireFloat32("axpby", y, x)
        precondition(y.count == x.count, "axpby: \(y.shape) and \(x.shape) differ in size")
        let count = y.count
        y.withMutableHostValues { yv in x.withHostValues { xv in
            let y = yv.baseAddress!, x = xv.baseAddress!
            parallelChunks(count) { range in
                for i in range { y[i] = alpha * y[i] + beta * x[i] }
            }
        } }
    }

    public func scaleInPlace(_ x: Tensor, by alpha: Float) {
        let t = profiler.begin(); defer { profiler.end(.optimizer, pass: .update, t) }
        requireFloat32("scale in place", x)
        let count = x.count
        x.withMutableHostValues { xv in
            let x = xv.baseAddress!
            parallelChunks(count) { range in
                for i in range { x[i] *= alpha }
            }
        }
    }

    public func sumOfSquares(_ tensors: [Tensor]) -> Double {
        let t = profiler.begin(); defer { profiler.end(.optimizer, pass: .update, t) }
        var total = 0.0
        for x in tensors {
            requireFloat32("sum of squares", x)
            x.withHostValues { for value in $0 { total += Double(value) * Double(value) } }
        }
        return total
    }
}
