/// `conv(relu(bn(x))) + residual` in training, without keeping relu(bn(x)) for backward: backward
/// recomputes it from x and the batch statistics in one elementwise pass, then frees it again. This
/// is the memory-efficient batch norm of Pleiss et al. 2017 ("Memory-Efficient Implementation of
/// DenseNets"): a bottleneck keeps four activations instead of six, for well under 1% more time.
///
/// Batch statistics normalize and the running ones move exactly as in `batchNorm(training: true)`.
public func batchNormReLUConv2d(_ x: Tensor, scale: Tensor?, shift: Tensor, statistics: BatchNormStatistics,
                                momentum: Float = 0.1, epsilon: Float = 1e-5,
                                weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding = .valid,
                                dilation: Int = 1, residual: Tensor? = nil) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4, "batchNormReLUConv2d wants an NHWC input and OIHW weights, got \(x.shape) and \(weight.shape)")
    let backend = Backend.current
    let (y, mean, variance, workspace) = backend.batchNormTraining(x, scale: scale, shift: shift, epsilon: epsilon, relu: true)
    updateRunning(statistics, mean: mean, variance: variance, momentum: momentum, count: x.count / x.shape[3])
    let g = WindowGeometry(inputH: x.shape[1], inputW: x.shape[2], kernelH: weight.shape[2], kernelW: weight.shape[3],
                           stride: (stride, stride), dilation: (dilation, dilation), padding: padding)
    let z = backend.convolution(y, weight: weight, bias: bias, geometry: g, residual: residual, relu: false, training: true)
    let inputs = [x, shift, weight] + [scale, bias, residual].compactMap { $0 }
    let (xs, ws, scaleSaved, shiftSaved) = (x.detached(), weight.detached(), scale?.detached(), shift.detached())
    let (hasScale, hasBias, hasResidual) = (scale != nil, bias != nil, residual != nil)
    return record("batchNormReLUConv2d", inputs, z) { dz in
        var (dy, dw, db): (Tensor, Tensor, Tensor?)
        do {  // the recomputed activation lives only inside this scope
            let y = backend.batchNormInference(xs, scale: scaleSaved, shift: shiftSaved, mean: mean, variance: variance,
                                               epsilon: epsilon, relu: true)
            dy = backend.convolutionBackwardData(dz, weight: ws, geometry: g, inputShape: y.shape)
            (dw, db) = backend.convolutionBackwardWeights(dz, input: y, geometry: g, weightShape: ws.shape, withBias: hasBias)
        }
        let (dx, dscale, dshift) = backend.batchNormBackward(dy, input: xs, scale: scaleSaved, mean: mean, variance: variance,
                                                            epsilon: epsilon, relu: true, workspace: workspace, globalStatistics: false)
        var grads: [Tensor?] = [dx, dshift, dw]
        if hasScale { grads.append(dscale) }
        if hasBias { grads.append(db) }
        if hasResidual { grads.append(dz) }
        return grads
    }
}
