import Foundation

/// Kernels small enough that plain Swift is the right tool: the paper's option-A shortcut, softmax
/// and the loss. They touch [N, K] logits or one subsampled activation, never a hot conv path.
extension CPUBackend {
    public func padChannelsSubsample(_ x: Tensor, channels: Int, stride: Int) -> Tensor {
        let t = profiler.begin(); defer { profiler.end(.swiftKernels, pass: .forward, t) }
        precondition(x.rank == 4 && channels >= x.shape[3], "option-A shortcut: cannot pad \(x.shape) to \(channels) channels")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h + stride - 1) / stride, ow = (w + stride - 1) / stride
        let y = Tensor(zeros: [n, oh, ow, channels])
        let src = x.pointer, dst = y.pointer
        for b in 0..<n { for i in 0..<oh { for j in 0..<ow {
            let s = src + ((b * h + i * stride) * w + j * stride) * c
            let d = dst + ((b * oh + i) * ow + j) * channels
            d.update(from: s, count: c)
        } } }
        return y
    }

    public func padChannelsSubsampleBackward(_ dy: Tensor, inputShape: [Int], stride: Int) -> Tensor {
        let t = profiler.begin(); defer { profiler.end(.swiftKernels, pass: .backward, t) }
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow, channels) = (dy.shape[1], dy.shape[2], dy.shape[3])
        let dx = Tensor(zeros: inputShape)
        let src = dy.pointer, dst = dx.pointer
        for b in 0..<n { for i in 0..<oh { for j in 0..<ow {
            let s = src + ((b * oh + i) * ow + j) * channels
            let d = dst + ((b * h + i * stride) * w + j * stride) * c
            d.update(from: s, count: c)
        } } }
        return dx
    }

    public func softmax(_ logits: Tensor) -> Tensor {
        let t = profiler.begin(); defer { profiler.end(.loss, pass: .forward, t) }
        precondition(logits.rank == 2, "softmax wants [N, K] logits, got \(logits.shape)")
        let (n, k) = (logits.shape[0], logits.shape[1])
        let y = Tensor(empty: logits.shape)
        for r in 0..<n {
            let row = logits.pointer + r * k, out = y.pointer + r * k
            var m = -Float.infinity
            for j in 0..<k { m = max(m, row[j]) }
            var s: Float = 0
            for j in 0..<k { let e = expf(row[j] - m); out[j] = e; s += e }
            for j in 0..<k { out[j] /= s }
        }
        return y
    }

    public func softmaxCrossEntropy(_ logits: Tensor, targets: Tensor) -> (loss: Float, gradient: Tensor) {
        let t = profiler.begin(); defer { profiler.end(.loss, pass: .forward, t) }
        precondition(logits.shape == targets.shape, "cross-entropy: logits \(logits.shape) and targets \(targets.shape) differ")
        let (n, k) = (logits.shape[0], logits.shape[1])
        let grad = Tensor(empty: logits.shape)
        var total: Double = 0
        for r in 0..<n {
            let row = logits.pointer + r * k, t = targets.pointer + r * k, g = grad.pointer + r * k
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
        return (Float(total / Double(n)), grad)
    }

    public func sum(_ x: Tensor) -> Float {
        let t = profiler.begin(); defer { profiler.end(.swiftKernels, pass: .forward, t) }
        var s: Double = 0
        let p = x.pointer
        for i in 0..<x.count { s += Double(p[i]) }
        return Float(s)
    }
}
