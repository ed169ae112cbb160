/// The loss's small kernels besides the fused softmax cross-entropy: the softmax's backward and
/// the target distributions built from labels. They touch [N, K] values only: plain Swift loops.
extension CPUBackend {
    public func softmaxBackward(_ dy: Tensor, output p: Tensor) -> Tensor {
        let t = profiler.begin(); defer { profiler.end(.loss, pass: .backward, t) }
        precondition(p.rank == 2 && dy.shape == p.shape, "softmax backward: gradient \(dy.shape) for output \(p.shape)")
        requireFloat32("softmax backward", dy, p)
        let (n, k) = (p.shape[0], p.shape[1])
        let dx = Tensor(empty: p.shape)
        let o = dx.storage.pointer   // a fresh plain buffer
        p.withHostValues { p in dy.withHostValues { g in
            for r in 0..<n {
                let row = r * k
                var dot: Float = 0
                for j in row..<row + k { dot += g[j] * p[j] }
                for j in row..<row + k { o[j] = p[j] * (g[j] - dot) }
            }
        } }
        return dx
    }

    public func labelTargets(_ labels: LabelTensor, classes k: Int, smoothing: Float) -> Tensor {
        let t = profiler.begin(); defer { profiler.end(.loss, pass: .forward, t) }
        let targets = Tensor(repeating: smoothing / Float(k), shape: [labels.count, k])
        let out = targets.storage.pointer   // a fresh plain buffer
        for (i, label) in labels.values.enumerated() {
            precondition(label >= 0 && Int(label) < k, "label \(label) out of range for \(k) classes")
            out[i * k + Int(label)] += 1 - smoothing
        }
        return targets
    }

    public func smoothTargets(_ targets: Tensor, smoothing: Float) -> Tensor {
        let t = profiler.begin(); defer { profiler.end(.loss, pass: .forward, t) }
        precondition(targets.rank == 2, "smoothTargets wants [N, K] targets, got \(targets.shape)")
        requireFloat32("smoothTargets", targets)
        let k = Float(targets.shape[1])
        let smoothed = Tensor(empty: targets.shape)
        let out = smoothed.storage.pointer   // a fresh plain buffer
        targets.withHostValues { source in
            for i in source.indices { out[i] = source[i] * (1 - smoothing) + smoothing / k }
        }
        return smoothed
    }
}
