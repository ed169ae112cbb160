/// The fused forms ops ask of a backend, each run as separate core ops when the backend lacks the
/// capability (`ComputeBackend.capabilities`): the same values, more passes over memory. Ops call
/// these instead of passing fused attributes straight to the backend.
extension ComputeBackend {
    /// `convolution` with `attributes.postOps` fused as far as the backend can, the rest applied
    /// after it by `add` and `relu` (in order: a post-op that cannot fuse keeps the ones after it out).
    func convolutionApplyingPostOps(_ x: Tensor, weight: Tensor, bias: Tensor?, attributes: ConvolutionAttributes) -> Tensor {
        var fused = attributes, after: [PostOp] = []
        fused.postOps = []
        for op in attributes.postOps {
            if after.isEmpty && capabilities.contains(op.capability) { fused.postOps.append(op) } else { after.append(op) }
        }
        var y = convolution(x, weight: weight, bias: bias, attributes: fused)
        for op in after {
            switch op {
            case .add(let residual):
                precondition(residual.shape == y.shape, "residual \(residual.shape) does not match convolution output \(y.shape)")
                y = self.add(y, residual)
            case .relu: y = self.relu(y)
            }
        }
        return y
    }

    /// Whether a batch norm with `attributes` runs as asked; else its ReLU runs separately.
    private func fuses(_ attributes: BatchNormAttributes) -> Bool {
        !attributes.fusedReLU || capabilities.contains(.batchNormReLU)
    }

    /// `batchNormTraining`, its fused ReLU run separately (and no workspace) when the backend lacks it.
    func batchNormTrainingApplyingReLU(_ x: Tensor, scale: Tensor?, shift: Tensor, attributes: BatchNormAttributes)
        -> (y: Tensor, mean: Tensor, variance: Tensor, workspace: Storage?) {
        if fuses(attributes) { return batchNormTraining(x, scale: scale, shift: shift, attributes: attributes) }
        let r = batchNormTraining(x, scale: scale, shift: shift, attributes: attributes.withoutReLU)
        return (self.relu(r.y), r.mean, r.variance, nil)
    }

    /// `batchNormInference`, its fused ReLU run separately when the backend lacks it.
    func batchNormInferenceApplyingReLU(_ x: Tensor, scale: Tensor?, shift: Tensor, mean: Tensor, variance: Tensor,
                                        attributes: BatchNormAttributes) -> Tensor {
        if fuses(attributes) {
            return batchNormInference(x, scale: scale, shift: shift, mean: mean, variance: variance, attributes: attributes)
        }
        return self.relu(batchNormInference(x, scale: scale, shift: shift, mean: mean, variance: variance, attributes: attributes.withoutReLU))
    }

    /// `batchNormBackward` (batch statistics) after a forward from `batchNormTrainingApplyingReLU`.
    /// Without the fusion there is no workspace mask: the normalized input is recomputed from `x`
    /// and the statistics (hence `shift`), and the ReLU's backward runs on it before the norm's.
    func batchNormBackwardApplyingReLU(_ dy: Tensor, input x: Tensor, scale: Tensor?, shift: Tensor, mean: Tensor, variance: Tensor,
                                       attributes: BatchNormAttributes, workspace: Storage?) -> (dx: Tensor, dscale: Tensor?, dshift: Tensor) {
        if fuses(attributes) {
            return batchNormBackward(dy, input: x, scale: scale, mean: mean, variance: variance, attributes: attributes,
                                     workspace: workspace, statistics: .batch)
        }
        let plain = attributes.withoutReLU
        let normalized = batchNormInference(x, scale: scale, shift: shift, mean: mean, variance: variance, attributes: plain)
        return batchNormBackward(reluBackward(dy, output: normalized), input: x, scale: scale, mean: mean, variance: variance,
                                 attributes: plain, workspace: nil, statistics: .batch)
    }
}

extension PostOp {
    /// The capability a backend needs to take this post-op fused.
    var capability: BackendCapabilities {
        switch self {
        case .add: .convolutionAdd
        case .relu: .convolutionReLU
        }
    }
}

extension BatchNormAttributes {
    /// The same batch norm with its ReLU left to a separate op.
    var withoutReLU: BatchNormAttributes { BatchNormAttributes(epsilon: epsilon, fusedReLU: false) }
}
