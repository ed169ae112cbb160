import ResNetEngine
@testable import ResNetLayers
@testable import ResNetModels

/// The chain executor the blocks used before `ConvBNChain` (commit 03ade64's `convChain`), kept
/// verbatim as the reference that the new blocks must match bit for bit: same primitives, same
/// recompute choices, same running statistics.
enum LegacyConvChain {
    static func run(_ x: Tensor, convs: [Conv2D], norms: [BatchNorm2D], residual: Tensor? = nil, relu: Bool = false,
                    owner: Module? = nil) -> Tensor {
        precondition(!convs.isEmpty && (norms.count == convs.count || norms.count == convs.count - 1))
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

    private static func foldedChain(_ x: Tensor, convs: [Conv2D], norms: [BatchNorm2D], residual: Tensor?, relu: Bool) -> Tensor {
        var h = x
        for (i, conv) in convs.enumerated() {
            let last = i == convs.count - 1
            let r = last ? residual : nil
            h = i < norms.count ? conv.folded(h, then: norms[i], residual: r, relu: !last || relu) : conv(h, residual: r, relu: relu)
        }
        return h
    }

    private static func trainingChain(_ x: Tensor, convs: [Conv2D], norms: [BatchNorm2D], residual: Tensor?, relu: Bool, owner: Module?) -> Tensor {
        let lastHasNorm = norms.count == convs.count
        var h = x
        for (i, conv) in convs.enumerated() {
            let last = i == convs.count - 1
            let pre = i > 0 ? norms[i - 1] : nil
            let recomputes = conv.inChannelsPerGroup * conv.kernel * conv.kernel <= EngineContext.current.options.recomputeFanIn
            let post = last && lastHasNorm && recomputes ? norms[i] : nil
            let fusedResidual = last && !lastHasNorm ? residual : nil
            if pre == nil && post == nil {
                h = conv(h, residual: fusedResidual)
                continue
            }
            h = fusedConv2d(h, pre: pre.map(parameters), conv: convolution(conv), post: post.map(parameters),
                            postReLU: post != nil && relu && residual == nil, residual: fusedResidual)
            for bn in [pre, post].compactMap({ $0 }) { bn.numBatchesTracked.withMutableHostValues { $0[0] += 1 } }
            if last && post != nil { return addResidual(h, residual, relu: relu, owner: owner) }
        }
        guard lastHasNorm else { return h }
        return addResidual(norms[convs.count - 1](h, relu: relu && residual == nil), residual, relu: relu, owner: owner)
    }

    private static func addResidual(_ h: Tensor, _ residual: Tensor?, relu: Bool, owner: Module?) -> Tensor {
        guard let residual else { return h }
        let y = relu ? addReLU(h, residual) : add(h, residual)
        LayerTrace.recordOp((owner?.displayName ?? "") + ".add", type: relu ? "Add+ReLU" : "Add", inputs: [h, residual], output: y, flops: 2 * y.count)
        return y
    }

    private static func parameters(_ bn: BatchNorm2D) -> BatchNormParameters {
        BatchNormParameters(scale: bn.weight, shift: bn.bias, statistics: BatchNormStatistics(mean: bn.runningMean, variance: bn.runningVar),
                            momentum: bn.momentum, epsilon: bn.epsilon)
    }

    private static func convolution(_ c: Conv2D) -> ConvolutionParameters {
        ConvolutionParameters(weight: c.weight, bias: c.bias, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
    }

    /// A whole network's forward with every unit, shortcut and the stem run through the legacy chain.
    static func forward(_ net: ResNet, _ x: Tensor) -> Tensor {
        var h = net.bn1.map { run(x, convs: [net.conv1], norms: [$0], relu: true) } ?? net.conv1(x)
        if let maxpool = net.maxpool { h = maxpool(h) }
        for stage in net.stages {
            for unit in stage.units { h = forward(unit, h) }
        }
        if let postnorm = net.postnorm { h = postnorm(h, relu: true) }
        if let avgpool = net.avgpool { h = avgpool(h) }
        if let fc = net.fc { h = fc(h) }
        return h
    }

    static func forward(_ unit: any ResidualUnit, _ x: Tensor) -> Tensor {
        switch unit {
        case let u as BasicBlock:
            return run(x, convs: [u.conv1, u.conv2], norms: [u.bn1, u.bn2], residual: shortcut(u.shortcut, x, owner: u), relu: true, owner: u)
        case let u as Bottleneck:
            return run(x, convs: [u.conv1, u.conv2, u.conv3], norms: [u.bn1, u.bn2, u.bn3], residual: shortcut(u.shortcut, x, owner: u),
                       relu: true, owner: u)
        case let u as PreActBottleneck:
            let pre = u.preact(x, relu: true)
            let shortcut: Tensor
            if let projection = u.projection {
                shortcut = projection(pre)
            } else if u.stride > 1 {
                shortcut = maxPool2d(x, kernel: 1, stride: u.stride)
                LayerTrace.recordOp(u.displayName + ".shortcut", type: "MaxPooling2D(1x1)", inputs: [x], output: shortcut)
            } else {
                shortcut = x
            }
            return run(pre, convs: [u.conv1, u.conv2, u.conv3], norms: [u.bn1, u.bn2], residual: shortcut, owner: u)
        default:
            fatalError("no legacy forward for \(type(of: unit))")
        }
    }

    private static func shortcut(_ s: V1Shortcut, _ x: Tensor, owner: Module) -> Tensor {
        switch s {
        case .identity: return x
        case .projection(let p): return run(x, convs: [p.conv], norms: [p.bn])
        case .zeroPad(let channels, let stride):
            let y = padChannelsSubsample(x, channels: channels, stride: stride)
            LayerTrace.recordOp(owner.displayName + ".shortcut", type: "ZeroPadShortcut", inputs: [x], output: y)
            return y
        }
    }
}
