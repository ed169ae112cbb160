import ResNetEngine

/// Batch norm folded into the convolution before it, for inference: with fixed statistics BN is
/// a per-channel affine map, so w' = w * s and b' = beta + (b - mean) * s with s = gamma / sqrt(var + eps)
/// give the same output in one oneDNN call, the residual add and ReLU riding along as post-ops
/// (the fusion TF's grappler and `torch.fx` apply to frozen graphs).
extension Conv2D {
    /// The convolution with `bn` folded in, for inference (no gradient recorded, running statistics).
    func folded(_ x: Tensor, then bn: BatchNorm2D, residual: Tensor? = nil, relu: Bool = false) -> Tensor {
        precondition(!bn.usesBatchStatistics && !GradMode.isEnabled, "batch norm folds only in inference")
        let (w, b) = foldedWeights(bn)
        return conv2d(x, w, bias: b, stride: stride, padding: padding, dilation: dilation, groups: groups, residual: residual, relu: relu)
    }

    /// The folded weight and bias, rebuilt only when one of the six source tensors has changed.
    private func foldedWeights(_ bn: BatchNorm2D) -> (weight: Tensor, bias: Tensor) {
        let sources = [weight, bias, bn.weight, bn.bias, bn.runningMean, bn.runningVar].map { $0?.storage }
        let versions = sources.map { $0?.version ?? 0 }
        if let cache = foldCache, cache.versions == versions, zip(cache.sources, sources).allSatisfy({ $0 === $1 }) {
            return (cache.weight, cache.bias)
        }
        let (o, perFilter) = (outChannels, weight.count / outChannels)
        let w = Tensor(empty: weight.shape), b = Tensor(empty: [o])
        // Per-channel vectors are small: read as arrays. Reads leave the sources' versions alone.
        let gamma = bn.weight?.toArray(), beta = bn.bias.toArray(), convBias = bias?.toArray()
        let mean = bn.runningMean.toArray(), variance = bn.runningVar.toArray()
        let scales = (0..<o).map { c in (gamma?[c] ?? 1) / (variance[c] + bn.epsilon).squareRoot() }
        w.withMutableHostValues { dst in weight.withHostValues { src in
            for c in 0..<o { for i in 0..<perFilter { dst[c * perFilter + i] = src[c * perFilter + i] * scales[c] } }
        } }
        b.withMutableHostValues { b in
            for c in 0..<o { b[c] = beta[c] + ((convBias?[c] ?? 0) - mean[c]) * scales[c] }
        }
        foldCache = FoldCache(sources: sources, versions: versions, weight: w, bias: b)
        return (w, b)
    }
}

/// The folded parameters of one convolution and the storages (with their versions) they came from.
final class FoldCache {
    let sources: [Storage?]
    let versions: [UInt64]
    let weight: Tensor
    let bias: Tensor

    init(sources: [Storage?], versions: [UInt64], weight: Tensor, bias: Tensor) {
        self.sources = sources; self.versions = versions; self.weight = weight; self.bias = bias
    }
}
