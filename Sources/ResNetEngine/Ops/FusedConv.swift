/// A batch norm of a fused convolution link: its parameters and the running statistics it moves.
public struct BatchNormParameters {
    public var scale: Tensor?
    public var shift: Tensor
    public var statistics: BatchNormStatistics
    public var momentum: Float
    public var epsilon: Float

    public init(scale: Tensor?, shift: Tensor, statistics: BatchNormStatistics, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        (self.scale, self.shift, self.statistics, self.momentum, self.epsilon) = (scale, shift, statistics, momentum, epsilon)
    }
}

/// The convolution of a fused link: OIHW weights ([O, I/groups, KH, KW] when grouped), optional bias, and its window.
public struct ConvolutionParameters {
    public var weight: Tensor
    public var bias: Tensor?
    public var stride: Int
    public var padding: Padding
    public var dilation: Int
    public var groups: Int

    public init(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding = .valid, dilation: Int = 1, groups: Int = 1) {
        (self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups) = (weight, bias, stride, padding, dilation, groups)
    }
}

/// One link of a residual unit in training, `post(conv(relu(pre(x)))) + residual`, that keeps only
/// `x` and per-channel statistics for backward. Backward recomputes what it needs:
/// - relu(pre(x)), the convolution's input, in one elementwise pass: the memory-efficient batch
///   norm of Pleiss et al. 2017 ("Memory-Efficient Implementation of DenseNets"), under 1% of time;
/// - conv(...), the input of `post`, by running the convolution again: worth it where the output
///   is large for its cost, as after a 1x1 convolution with few input channels (`EngineOptions.recomputeFanIn`).
///
/// Both batch norms use batch statistics and move their running ones exactly as
/// `batchNorm(training: true)` does. `postReLU` applies ReLU after `post`; the residual is added
/// inside the convolution, so it needs `post == nil`.
public func fusedConv2d(_ x: Tensor, pre: BatchNormParameters? = nil, conv: ConvolutionParameters,
                        post: BatchNormParameters? = nil, postReLU: Bool = false, residual: Tensor? = nil) -> Tensor {
    precondition(x.rank == 4 && conv.weight.rank == 4, "fusedConv2d wants an NHWC input and OIHW weights, got \(x.shape) and \(conv.weight.shape)")
    precondition(residual == nil || post == nil, "fusedConv2d adds the residual inside the convolution, so not after a batch norm")
    precondition(!postReLU || post != nil, "fusedConv2d's postReLU follows the post batch norm")
    checkGroups(x.shape, conv.weight.shape, groups: conv.groups)
    let context = EngineContext.current, backend = context.backend
    let g = WindowGeometry(inputH: x.shape[1], inputW: x.shape[2], kernelH: conv.weight.shape[2], kernelW: conv.weight.shape[3],
                           stride: (conv.stride, conv.stride), dilation: (conv.dilation, conv.dilation), padding: conv.padding)
    let preNormalized = pre.map { SavedBatchNorm.normalize(x, $0, relu: true) }
    let convOutput = backend.convolutionApplyingPostOps(preNormalized?.output ?? x, weight: conv.weight, bias: conv.bias,
                                         attributes: ConvolutionAttributes(geometry: g, postOps: residual.map { [.add($0)] } ?? [], propagation: .training))
    let postNormalized = post.map { SavedBatchNorm.normalize(convOutput, $0, relu: postReLU) }
    let output = postNormalized?.output ?? convOutput

    // In the order of the positional edges before: x, weight, bias, pre's shift and scale, post's, residual.
    let inputs: [(role: FusedConvInput, tensor: Tensor?)] =
        [(.input, x), (.weight, conv.weight), (.bias, conv.bias),
         (.shift(.pre), pre?.shift), (.scale(.pre), pre?.scale), (.shift(.post), post?.shift), (.scale(.post), post?.scale),
         (.residual, residual)]
    guard GradMode.isEnabled, inputs.contains(where: { $0.tensor?.needsGradient ?? false }) else { return output }

    let xs = x.detached(), weight = conv.weight.detached(), bias = conv.bias?.detached()
    let (preSaved, postSaved) = (preNormalized?.saved, postNormalized?.saved)
    let needX = x.needsGradient || pre != nil, hasResidual = residual != nil
    return record("fusedConv2d", roles: inputs, output) { dz in
        var grads = InputGradients<FusedConvInput>(), dc = dz, dConvInput: Tensor?
        do {  // the recomputed activations live only inside this scope
            let r = preSaved.map { p in context.profiler.recomputing { p.normalizeAgain(xs) } } ?? xs
            if let postSaved {
                let c = context.profiler.recomputing {
                    backend.convolution(r, weight: weight, bias: bias, attributes: ConvolutionAttributes(geometry: g, propagation: .training))
                }
                dc = postSaved.backward(dz, input: c, link: .post, into: &grads)
            }
            dConvInput = needX ? backend.convolutionBackwardData(dc, weight: weight, geometry: g, inputShape: r.shape) : nil
            let (dw, db) = backend.convolutionBackwardWeights(dc, input: r, geometry: g, weightShape: weight.shape, withBias: bias != nil)
            grads[.weight] = dw
            grads[.bias] = db
        }
        grads[.input] = dConvInput
        if let preSaved, let dr = dConvInput { grads[.input] = preSaved.backward(dr, input: xs, link: .pre, into: &grads) }
        if hasResidual { grads[.residual] = dc }
        return grads
    }
}

/// The inputs of a fused link, by role: its gradients are keyed by these, so an absent bias or
/// batch norm cannot shift another input's gradient.
enum FusedConvInput: Hashable {
    /// The batch norm before the convolution (`pre`) or after it (`post`).
    enum Link: Hashable { case pre, post }
    case input, weight, bias, scale(Link), shift(Link), residual
}

/// What backward needs of one of a link's batch norms: its parameters and batch statistics.
private struct SavedBatchNorm {
    let scale: Tensor?, shift: Tensor, attributes: BatchNormAttributes
    let mean: Tensor, variance: Tensor, workspace: Storage?

    /// `t` normalized with its batch statistics (ReLU fused when asked), the running ones moved.
    static func normalize(_ t: Tensor, _ p: BatchNormParameters, relu: Bool) -> (output: Tensor, saved: SavedBatchNorm) {
        let attributes = BatchNormAttributes(epsilon: p.epsilon, fusedReLU: relu)
        let (y, mean, variance, workspace) = Backend.current.batchNormTrainingApplyingReLU(t, scale: p.scale, shift: p.shift,
                                                                                           attributes: attributes)
        updateRunning(p.statistics, mean: mean, variance: variance, momentum: p.momentum, count: t.count / t.shape[3])
        return (y, SavedBatchNorm(scale: p.scale?.detached(), shift: p.shift.detached(), attributes: attributes,
                                  mean: mean, variance: variance, workspace: workspace))
    }

    /// The forward output again, from the same input and the saved batch statistics.
    func normalizeAgain(_ t: Tensor) -> Tensor {
        Backend.current.batchNormInferenceApplyingReLU(t, scale: scale, shift: shift, mean: mean, variance: variance, attributes: attributes)
    }

    /// The input's gradient; the shift's and scale's go into `grads` under `link`.
    func backward(_ dy: Tensor, input: Tensor, link: FusedConvInput.Link, into grads: inout InputGradients<FusedConvInput>) -> Tensor {
        let (dx, dscale, dshift) = Backend.current.batchNormBackwardApplyingReLU(dy, input: input, scale: scale, shift: shift, mean: mean,
                                                                               variance: variance, attributes: attributes, workspace: workspace)
        grads[.shift(link)] = dshift
        grads[.scale(link)] = dscale   // nil exactly when there is no scale
        return dx
    }
}
