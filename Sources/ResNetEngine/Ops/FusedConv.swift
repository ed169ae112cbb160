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

/// The convolution of a fused link: OIHW weights, optional bias, and its window.
public struct ConvolutionParameters {
    public var weight: Tensor
    public var bias: Tensor?
    public var stride: Int
    public var padding: Padding
    public var dilation: Int

    public init(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding = .valid, dilation: Int = 1) {
        (self.weight, self.bias, self.stride, self.padding, self.dilation) = (weight, bias, stride, padding, dilation)
    }
}

/// One link of a residual unit in training, `post(conv(relu(pre(x)))) + residual`, that keeps only
/// `x` and per-channel statistics for backward. Backward recomputes what it needs:
/// - relu(pre(x)), the convolution's input, in one elementwise pass: the memory-efficient batch
///   norm of Pleiss et al. 2017 ("Memory-Efficient Implementation of DenseNets"), under 1% of time;
/// - conv(...), the input of `post`, by running the convolution again: worth it where the output
///   is large for its cost, as after a 1x1 convolution with few input channels (`Conv2D.recomputes`).
///
/// Both batch norms use batch statistics and move their running ones exactly as
/// `batchNorm(training: true)` does. `postReLU` applies ReLU after `post`; the residual is added
/// inside the convolution, so it needs `post == nil`.
public func fusedConv2d(_ x: Tensor, pre: BatchNormParameters? = nil, conv: ConvolutionParameters,
                        post: BatchNormParameters? = nil, postReLU: Bool = false, residual: Tensor? = nil) -> Tensor {
    precondition(x.rank == 4 && conv.weight.rank == 4, "fusedConv2d wants an NHWC input and OIHW weights, got \(x.shape) and \(conv.weight.shape)")
    precondition(residual == nil || post == nil, "fusedConv2d adds the residual inside the convolution, so not after a batch norm")
    precondition(!postReLU || post != nil, "fusedConv2d's postReLU follows the post batch norm")
    let backend = Backend.current

    /// Batch statistics of `t`, the running ones moved, and `t` normalized (ReLU fused when asked).
    func normalize(_ t: Tensor, _ p: BatchNormParameters, relu: Bool) -> (Tensor, Tensor, Tensor, Storage?) {
        let (y, mean, variance, workspace) = backend.batchNormTraining(t, scale: p.scale, shift: p.shift, epsilon: p.epsilon, relu: relu)
        updateRunning(p.statistics, mean: mean, variance: variance, momentum: p.momentum, count: t.count / t.shape[3])
        return (y, mean, variance, workspace)
    }
    let g = WindowGeometry(inputH: x.shape[1], inputW: x.shape[2], kernelH: conv.weight.shape[2], kernelW: conv.weight.shape[3],
                           stride: (conv.stride, conv.stride), dilation: (conv.dilation, conv.dilation), padding: conv.padding)
    let preStats = pre.map { normalize(x, $0, relu: true) }
    let convInput = preStats?.0 ?? x
    let convOutput = backend.convolution(convInput, weight: conv.weight, bias: conv.bias, geometry: g, residual: residual,
                                         relu: false, training: true)
    let postStats = post.map { normalize(convOutput, $0, relu: postReLU) }
    let output = postStats?.0 ?? convOutput

    let preInputs = pre.map { [$0.shift] + [$0.scale].compactMap { $0 } } ?? []
    let postInputs = post.map { [$0.shift] + [$0.scale].compactMap { $0 } } ?? []
    let inputs = [x, conv.weight] + [conv.bias].compactMap { $0 } + preInputs + postInputs + [residual].compactMap { $0 }
    guard GradMode.isEnabled, inputs.contains(where: { $0.needsGradient }) else { return output }

    let xs = x.detached(), weight = conv.weight.detached(), bias = conv.bias?.detached()
    let preSaved = pre.map { (scale: $0.scale?.detached(), shift: $0.shift.detached(), epsilon: $0.epsilon) }
    let postSaved = post.map { (scale: $0.scale?.detached(), epsilon: $0.epsilon) }
    let (preMoments, postMoments) = (preStats.map { ($0.1, $0.2, $0.3) }, postStats.map { ($0.1, $0.2, $0.3) })
    let needX = x.needsGradient || pre != nil, hasResidual = residual != nil
    return record("fusedConv2d", inputs, output) { dz in
        var dc = dz, postGrads: [Tensor?] = [], dConvInput: Tensor?, dw: Tensor, db: Tensor?
        do {  // the recomputed activations live only inside this scope
            let r = preSaved.map { p in
                Profiler.recomputing {
                    backend.batchNormInference(xs, scale: p.scale, shift: p.shift, mean: preMoments!.0, variance: preMoments!.1,
                                               epsilon: p.epsilon, relu: true)
                }
            } ?? xs
            if let postSaved, let (mean, variance, workspace) = postMoments {
                let c = Profiler.recomputing {
                    backend.convolution(r, weight: weight, bias: bias, geometry: g, residual: nil, relu: false, training: true)
                }
                let (d, dscale, dshift) = backend.batchNormBackward(dz, input: c, scale: postSaved.scale, mean: mean, variance: variance,
                                                                   epsilon: postSaved.epsilon, relu: postReLU, workspace: workspace,
                                                                   globalStatistics: false)
                dc = d
                postGrads = [dshift] + (postSaved.scale != nil ? [dscale] : [])
            }
            dConvInput = needX ? backend.convolutionBackwardData(dc, weight: weight, geometry: g, inputShape: r.shape) : nil
            (dw, db) = backend.convolutionBackwardWeights(dc, input: r, geometry: g, weightShape: weight.shape, withBias: bias != nil)
        }
        var preGrads: [Tensor?] = []
        var dx = dConvInput
        if let preSaved, let (mean, variance, workspace) = preMoments, let dr = dConvInput {
            let (d, dscale, dshift) = backend.batchNormBackward(dr, input: xs, scale: preSaved.scale, mean: mean, variance: variance,
                                                               epsilon: preSaved.epsilon, relu: true, workspace: workspace,
                                                               globalStatistics: false)
            dx = d
            preGrads = [dshift] + (preSaved.scale != nil ? [dscale] : [])
        }
        return [dx, dw] + (bias != nil ? [db] : []) + preGrads + postGrads + (hasResidual ? [dc] : [])
    }
}
