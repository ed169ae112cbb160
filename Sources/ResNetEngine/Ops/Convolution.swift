/// 2-D convolution of NHWC `x` with OIHW `weight`, as `y = relu(conv(x) + bias + residual)` where the
/// optional residual add and ReLU run fused inside oneDNN's kernel (the end of a v1 residual unit),
/// or after it on a backend without those fusions.
/// With `groups` > 1 the channels split into that many independent convolutions (ResNeXt's
/// cardinality, Xie et al. 2017): weights are [O, I/groups, KH, KW], as torchvision's.
public func conv2d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding = .valid,
                   dilation: Int = 1, groups: Int = 1, residual: Tensor? = nil, relu: Bool = false) -> Tensor {
    precondition(x.rank == 4, "conv2d wants an NHWC input, got shape \(x.shape)")
    precondition(weight.rank == 4, "conv2d wants OIHW weights, got shape \(weight.shape)")
    checkGroups(x.shape, weight.shape, groups: groups)
    let g = WindowGeometry(inputH: x.shape[1], inputW: x.shape[2], kernelH: weight.shape[2], kernelW: weight.shape[3],
                           stride: (stride, stride), dilation: (dilation, dilation), padding: padding)
    let inputs: [(role: ConvolutionInput, tensor: Tensor?)] = [(.input, x), (.weight, weight), (.bias, bias), (.residual, residual)]
    let recording = GradMode.isEnabled && inputs.contains { $0.tensor?.needsGradient ?? false }
    let backend = Backend.current
    let y = backend.convolutionApplyingPostOps(x, weight: weight, bias: bias, attributes: ConvolutionAttributes(
        geometry: g, postOps: (residual.map { [.add($0)] } ?? []) + (relu ? [.relu] : []), propagation: recording ? .training : .inference))
    guard recording else { return y }
    let (xs, ws, ys) = (x.detached(), weight.detached(), relu ? y.detached() : nil)
    let needX = x.needsGradient, needW = weight.needsGradient || (bias?.needsGradient ?? false)
    let hasBias = bias != nil, hasResidual = residual != nil
    return record("conv2d", roles: inputs, y) { dy in
        let d = ys.map { backend.reluBackward(dy, output: $0) } ?? dy
        let dx = needX ? backend.convolutionBackwardData(d, weight: ws, geometry: g, inputShape: xs.shape) : nil
        let (dw, db) = needW ? backend.convolutionBackwardWeights(d, input: xs, geometry: g, weightShape: ws.shape, withBias: hasBias) : (nil, nil)
        var grads = InputGradients<ConvolutionInput>()
        grads[.input] = dx
        grads[.weight] = dw
        grads[.bias] = db   // nil exactly when there is no bias: the backend returns one when asked
        grads[.residual] = hasResidual ? d : nil
        return grads
    }
}

/// The inputs of a convolution, by role: bias and residual are optional.
enum ConvolutionInput: Hashable {
    case input, weight, bias, residual
}

/// Traps unless `weight` is [O, I/groups, KH, KW] for an input of I channels: the backend reads the
/// groups off the shapes, so this is where a mismatch is caught.
func checkGroups(_ xShape: [Int], _ wShape: [Int], groups: Int) {
    precondition(groups >= 1 && xShape[3] == wShape[1] * groups && wShape[0] % groups == 0,
                 "convolution of \(xShape[3]) channels in \(groups) group(s) wants weights [O, \(xShape[3] / max(groups, 1)), KH, KW] with O a multiple of \(groups), got \(wShape)")
}

/// TF-slim's `conv2d_same` from the seed: 'SAME' at stride 1, otherwise explicit padding of
/// `kernel - 1` split begin/end, then a 'VALID' convolution, whatever the input size.
public func conv2dSame(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Int, dilation: Int = 1) -> Tensor {
    conv2d(x, weight, bias: bias, stride: stride,
           padding: .conv2dSame(kernel: weight.shape[2], stride: stride, dilation: dilation), dilation: dilation)
}
