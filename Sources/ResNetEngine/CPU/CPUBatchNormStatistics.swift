/// Batch-norm bookkeeping outside oneDNN's normalization: moving the running statistics after a
/// training batch, and folding fixed statistics into the convolution before the norm for inference.
/// Per-channel vectors and one pass over a weight tensor: plain Swift loops.
extension CPUBackend {
    public func updateRunningStatistics(mean: Tensor, variance: Tensor, batchMean: Tensor, batchVariance: Tensor,
                                        momentum m: Float, count n: Int) {
        let t = profiler.begin(); defer { profiler.end(.swiftKernels, pass: profiler.forwardPass, t) }
        requireFloat32("running statistics", mean, variance, batchMean, batchVariance)
        precondition([variance.count, batchMean.count, batchVariance.count].allSatisfy { $0 == mean.count },
                     "running statistics: \(mean.count) channels, batch statistics of another size")
        // torch: the running variance takes the unbiased batch variance, n / (n - 1) times the biased one.
        let correction = n > 1 ? Float(n) / Float(n - 1) : 1
        mean.withMutableHostValues { rm in variance.withMutableHostValues { rv in
            batchMean.withHostValues { bm in batchVariance.withHostValues { bv in
                for c in 0..<bm.count {
                    rm[c] = (1 - m) * rm[c] + m * bm[c]
                    rv[c] = (1 - m) * rv[c] + m * bv[c] * correction
                }
            } }
        } }
    }

    public func foldBatchNorm(weight: Tensor, bias: Tensor?, scale: Tensor?, shift: Tensor, mean: Tensor, variance: Tensor,
                              epsilon: Float) -> (weight: Tensor, bias: Tensor) {
        let t = profiler.begin(); defer { profiler.end(.swiftKernels, pass: .forward, t) }
        requireFloat32("batch-norm folding", weight, bias, scale, shift, mean, variance)
        let o = weight.shape[0], perFilter = weight.count / max(o, 1)
        precondition([shift.count, mean.count, variance.count, scale?.count ?? o, bias?.count ?? o].allSatisfy { $0 == o },
                     "batch-norm folding: per-channel vectors do not match \(o) output channels")
        // Per-channel vectors are small: read as arrays. Reads leave the sources' versions alone.
        let gamma = scale?.toArray(), beta = shift.toArray(), convBias = bias?.toArray()
        let mean = mean.toArray(), variance = variance.toArray()
        let scales = (0..<o).map { c in (gamma?[c] ?? 1) / (variance[c] + epsilon).squareRoot() }
        let w = Tensor(empty: weight.shape), b = Tensor(empty: [o])
        let dst = w.storage.pointer, bout = b.storage.pointer   // fresh plain buffers
        weight.withHostValues { src in
            parallelFor(o) { c in
                for i in 0..<perFilter { dst[c * perFilter + i] = src[c * perFilter + i] * scales[c] }
            }
        }
        for c in 0..<o { bout[c] = beta[c] + ((convBias?[c] ?? 0) - mean[c]) * scales[c] }
        return (w, b)
    }
}
