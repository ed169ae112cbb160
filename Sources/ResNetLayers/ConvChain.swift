import ResNetEngine

/// Convolutions each followed by batch norm, with ReLU between them, as in every ResNet unit:
/// `bn_n(conv_n(... relu(bn_1(conv_1(x))) ...))`, then `+ residual` and a final ReLU when asked. The
/// last convolution may have no batch norm (the v2 unit's biased conv3), and then takes the residual
/// as its fused post-op.
///
/// One description, three executions:
/// - inference folds each BN into the convolution before it: one oneDNN call per link, ReLU and
///   the residual add as post-ops;
/// - training joins each BN-ReLU to the convolution after it (`batchNormReLUConv2d`), so the
///   BN-ReLU output is recomputed in backward instead of kept: the activation memory of a
///   bottleneck drops by a third;
/// - anything else (frozen BN while fine-tuning, a summary tracing layer by layer) runs layer by layer.
public func convChain(_ x: Tensor, convs: [Conv2D], norms: [BatchNorm2D], residual: Tensor? = nil, relu: Bool = false,
                      owner: Module? = nil) -> Tensor {
    precondition(!convs.isEmpty && (norms.count == convs.count || norms.count == convs.count - 1),
                 "convChain wants one batch norm per convolution, the last one optional")
    let lastHasNorm = norms.count == convs.count
    let tracing = LayerTrace.isActive
    if !tracing && !GradMode.isEnabled && norms.allSatisfy({ !$0.usesBatchStatistics }) {
        return foldedChain(x, convs: convs, norms: norms, residual: residual, relu: relu)
    }
    if !tracing && GradMode.isEnabled && norms.allSatisfy({ $0.usesBatchStatistics }) && (lastHasNorm || !relu) {
        var h = convs[0](x)
        for i in 1..<convs.count {
            let fuseResidual = i == convs.count - 1 && !lastHasNorm
            h = norms[i - 1].thenConv(h, convs[i], residual: fuseResidual ? residual : nil)
        }
        guard lastHasNorm else { return h }
        return addResidual(norms[convs.count - 1](h, relu: relu && residual == nil), residual, relu: relu, owner: owner)
    }
    var h = x
    for (i, conv) in convs.enumerated() {
        let last = i == convs.count - 1
        guard i < norms.count else { return conv(h, residual: residual, relu: relu) }
        h = norms[i](conv(h), relu: !last || (relu && residual == nil))
    }
    return addResidual(h, residual, relu: relu, owner: owner)
}

/// The inference execution: every link one folded convolution.
private func foldedChain(_ x: Tensor, convs: [Conv2D], norms: [BatchNorm2D], residual: Tensor?, relu: Bool) -> Tensor {
    var h = x
    for (i, conv) in convs.enumerated() {
        let last = i == convs.count - 1
        let r = last ? residual : nil
        h = i < norms.count ? conv.folded(h, then: norms[i], residual: r, relu: !last || relu) : conv(h, residual: r, relu: relu)
    }
    return h
}

/// `relu(h + residual)` (or without ReLU) in one pass, recorded for summaries as the unit's add.
private func addResidual(_ h: Tensor, _ residual: Tensor?, relu: Bool, owner: Module?) -> Tensor {
    guard let residual else { return h }
    let y = relu ? addReLU(h, residual) : add(h, residual)
    LayerTrace.recordOp((owner?.displayName ?? "") + ".add", type: relu ? "Add+ReLU" : "Add", inputs: [h, residual], output: y, flops: 2 * y.count)
    return y
}

extension Conv2D {
    /// `bn(conv(x))`, ReLU fused when asked: a chain of one.
    public func callAsFunction(_ x: Tensor, then bn: BatchNorm2D, relu: Bool = false) -> Tensor {
        convChain(x, convs: [self], norms: [bn], relu: relu)
    }
}

extension BatchNorm2D {
    /// `conv(relu(self(x))) + residual` in training with the BN-ReLU output recomputed in backward.
    func thenConv(_ x: Tensor, _ conv: Conv2D, residual: Tensor?) -> Tensor {
        let y = batchNormReLUConv2d(x, scale: weight, shift: bias, statistics: BatchNormStatistics(mean: runningMean, variance: runningVar),
                                    momentum: momentum, epsilon: epsilon, weight: conv.weight, bias: conv.bias, stride: conv.stride,
                                    padding: conv.padding, dilation: conv.dilation, residual: residual)
        numBatchesTracked.pointer[0] += 1
        return y
    }
}
