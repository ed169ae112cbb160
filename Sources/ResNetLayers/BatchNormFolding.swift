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
        let (w, b) = Backend.current.foldBatchNorm(weight: weight, bias: bias, scale: bn.weight, shift: bn.bias,
                                                   mean: bn.runningMean, variance: bn.runningVar, epsilon: bn.epsilon)
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
