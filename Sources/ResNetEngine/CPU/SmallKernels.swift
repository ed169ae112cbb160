import Foundation

/// Kernels small enough that plain Swift is the right tool: the paper's option-A shortcut, softmax
/// and the loss. They touch [N, K] logits or one subsampled activation, never a hot conv path.
/// Inputs are read through `withHostValues` (NHWC, the tensor left as it is); outputs are fresh
/// plain buffers written directly.
extension CPUBackend {
    public func padChannelsSubsample(_ x: Tensor, channels: Int, stride: Int) -> Tensor {
        let t = profiler.begin(); defer { profiler.end(.swiftKernels, pass: .forward, t) }
        precondition(x.rank == 4 && channels >= x.shape[3], "option-A shortcut: cannot pad \(x.shape) to \(channels) channels")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h + stride - 1) / stride, ow = (w + stride - 1) / stride
        requireFloat32("option-A shortcut", x)
        let y = Tensor(zeros: [n, oh, ow, channels])
        let dst = y.storage.pointer
        x.withHostValues { src in
            for b in 0..<n { for i in 0..<oh { for j in 0..<ow {
                let s = src.baseAddress! + ((b * h + i * stride) * w + j * stride) * c
                let d = dst + ((b * oh + i) * ow + j) * channels
                d.update(from: s, count: c)
            } } }
        }
        return y
    }

    public func padChannelsSubsampleBackward(_ dy: Tensor, inputShape: [Int], stride: Int) -> Tensor {
        let t = profiler.begin(); defer { profiler.end(.swiftKernels, pass: .backward, t) }
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow, channels) = (dy.shape[1], dy.shape[2], dy.shape[3])
        requireFloat32("option-A shortcut backward", dy)
        let dx = Tensor(zeros: inputShape)
        let dst = dx.storage.pointer
        dy.withHostValues { src in
            for b in 0..<n { for i in 0..<oh { for j in 0..<ow {
                let s = src.baseAddress! + ((b * oh + i) * ow + j) * channels
                let d = dst + ((b * h + i * stride) * w + j * stride) * c
                d.update(from: s, count: c)
            } } }
        }
        return dx
    }

    public func softmax(_ logits: Tensor) -> Tensor {
        let t = profiler.begin(); defer { profiler.end(.loss, pass: .forward, t) }
        precondition(logits.rank == 2, "softmax wants [N, K] logits, got \(logits.shape)")
        let (n, k) = (logits.shape[0], logits.shape[1])
        requireFloat32("softmax", logits)
        let y = Tensor(empty: logits.shape)
        logits.withHostValues { x in
            for r in 0..<n {
                let row = x.baseAddress! + r * k, out = y.storage.pointer + r * k
                var m = -Float.infinity
                for j in 0..<k { m = max(m, row[j]) }
                var s: Float = 0
                for j in 0..<k { let e = expf(row[j] - m); out[j] = e; s += e }
                for j in 0..<k { out[j] /= s }
            }
        }
        return y
    }

    public func softmaxCrossEntropy(_ logits: Tensor, targets: Tensor) -> (loss: Float, gradient: Tensor) {
        let t = profiler.begin(); defer { profiler.end(.loss, pass: .forward, t) }
        precondition(logits.shape == targets.shape, "cross-entropy: logits \(logits.shape) and targets \(targets.shape) differ")
        let (n, k) = (logits.shape[0], logits.shape[1])
        requireFloat32("cross-entropy", logits, targets)
        let grad = Tensor(empty: logits.shape)
        var total: Double = 0
        logits.withHostValues { x in targets.withHostValues { targets in
            for r in 0..<n {
                let row = x.baseAddress! + r * k, t = targets.baseAddress! + r * k, g = grad.storage.pointer + r * k
                // One pass of exponentials serves both the softmax (the gradient) and log Z (the loss).
                var m = -Float.infinity
                for j in 0..<k { m = max(m, row[j]) }
                var s: Double = 0
                for j in 0..<k { let e = expf(row[j] - m); g[j] = e; s += Double(e) }
                let logZ = Double(m) + log(s)
                for j in 0..<k {
                    total -= Double(t[j]) * (Double(row[j]) - logZ)
                    g[j] = (Float(Double(g[j]) / s) - t[j]) / Float(n)
                }
            }
        } }
        return (Float(total / Double(n)), grad)
    }

    public func sum(_ x: Tensor) -> Float {
        let t = profiler.begin(); defer { profiler.end(.swiftKernels, pass: .forward, t) }
        requireFloat32("sum", x)
        return x.withHostValues { p in Float(p.reduce(0) { $0 + Double($1) }) }
    }
}
