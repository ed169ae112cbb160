import ResNetEngine

/// Convolutions each followed by batch norm, with ReLU between them, as in every ResNet unit:
/// `bn_n(conv_n(... relu(bn_1(conv_1(x))) ...))`, then `+ residual` and a final ReLU when asked. The
/// last convolution may have no batch norm (the v2 unit's biased conv3), and then takes the residual
/// as its fused post-op.
///
/// One description, three executions:
/// - inference folds each BN into the convolution before it: one oneDNN call per link, ReLU and
///   the residual add as post-ops;
/// - training joins each BN-ReLU to the convolution after it (`fusedConv2d`), so the BN-ReLU
///   output is recomputed in backward instead of kept, and recomputes cheap convolutions' outputs
///   too: the activation memory of a stage-1 bottleneck drops by more than half;
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
        return trainingChain(x, convs: convs, norms: norms, residual: residual, relu: relu, owner: owner)
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

/// The training execution: link i is `fusedConv2d(h, pre: norms[i - 1], conv: convs[i])`, so no
/// BN-ReLU output is kept; the last link also takes its batch norm when the convolution's output
/// is cheaper to recompute than to keep (`Conv2D.recomputesOutput`).
private func trainingChain(_ x: Tensor, convs: [Conv2D], norms: [BatchNorm2D], residual: Tensor?, relu: Bool, owner: Module?) -> Tensor {
    let lastHasNorm = norms.count == convs.count
    var h = x
    for (i, conv) in convs.enumerated() {
        let last = i == convs.count - 1
        let pre = i > 0 ? norms[i - 1] : nil
        let post = last && lastHasNorm && conv.recomputesOutput ? norms[i] : nil
        let fusedResidual = last && !lastHasNorm ? residual : nil   // added inside the convolution
        if pre == nil && post == nil {
            h = conv(h, residual: fusedResidual)
            continue
        }
        h = fusedConv2d(h, pre: pre?.trainingParameters, conv: conv.parameters, post: post?.trainingParameters,
                        postReLU: post != nil && relu && residual == nil, residual: fusedResidual)
        for bn in [pre, post].compactMap({ $0 }) { bn.countBatch() }
        if last && post != nil { return addResidual(h, residual, relu: relu, owner: owner) }
    }
    guard lastHasNorm else { return h }
    return addResidual(norms[convs.count - 1](h, relu: relu && residual == nil), residual, relu: relu, owner: owner)
}

/// `relu(h + residual)` (or without ReLU) in one pass, recorded for summaries as the unit's add.
private func addResidual(_ h: Tensor, _ residual: Tensor?, relu: Bool, owner: Module?) -> Tensor {
    guard let residual else { return h }
    let y = relu ? addReLU(h, residual) : add(h, residual)
    LayerTrace.recordOp((owner?.displayName ?? "") + ".add", type: relu ? "Add+ReLU" : "Add", inputs: [h, residual], output: y, flops: 2 * y.count)
    return y
}

extension BatchNorm2D {
    /// This layer as the batch norm of a fused training link.
    var trainingParameters: BatchNormParameters {
        BatchNormParameters(scale: weight, shift: bias, statistics: BatchNormStatistics(mean: runningMean, variance: runningVar),
                            momentum: momentum, epsilon: epsilon)
    }

    /// Counts one training batch, as `callAsFunction` does, for a link that normalized outside it.
    func countBatch() { numBatchesTracked.withMutableHostValues { $0[0] += 1 } }
}

extension Conv2D {
    /// `bn(conv(x))`, ReLU fused when asked: a chain of one.
    public func callAsFunction(_ x: Tensor, then bn: BatchNorm2D, relu: Bool = false) -> Tensor {
        convChain(x, convs: [self], norms: [bn], relu: relu)
    }

    /// This layer as the convolution of a fused training link.
    var parameters: ConvolutionParameters {
        ConvolutionParameters(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    /// Whether training recomputes this convolution's output in backward instead of keeping it for
    /// the batch norm after it: when its inputs per output value are at most the current context's
    /// `recomputeFanIn`. Keeping costs 4 bytes per output value, recomputing 2 x fan-in FLOPs, so
    /// small fan-ins save most memory per FLOP: in ResNet-50 the 1x1 expansions of stages 1-2 and
    /// stage 1's projection (fan-in 64, 128: 0.6 GB at batch 32) for about 3% more FLOPs.
    var recomputesOutput: Bool { inChannelsPerGroup * kernel * kernel <= EngineContext.current.options.recomputeFanIn }
}
