import ResNetEngine
import ResNetLayers

/// The v2 pre-activation bottleneck exactly as the seed's TF-slim `bottleneck` (He et al. 2016):
/// preact = BN-ReLU(x); shortcut = x (max-pool 1x1/s subsample) when the depth is unchanged, else a
/// biased 1x1 conv of preact; residual = 1x1 (BN-ReLU), 3x3 `conv2d_same` (BN-ReLU), biased 1x1.
public final class PreActBottleneck: Module, ResidualUnit {
    public static let expansion = 4
    let preact: BatchNorm2D
    let conv1: Conv2D, bn1: BatchNorm2D, conv2: Conv2D, bn2: BatchNorm2D, conv3: Conv2D
    let projection: Conv2D?
    let stride: Int

    public init(_ s: UnitSpec, config c: ResNetConfig, seeds: inout SeedSequence) {
        let he = Initializer.heNormal(mode: .fanIn)
        let (m, e) = (c.batchNormMomentum, c.batchNormEpsilon)
        stride = s.stride
        preact = BatchNorm2D(s.inChannels, momentum: m, epsilon: e)
        projection = s.inChannels == s.outChannels ? nil
            : Conv2D(s.inChannels, s.outChannels, kernel: 1, stride: s.stride, bias: true, initializer: he, seed: seeds.next())
        conv1 = Conv2D(s.inChannels, s.width, kernel: 1, initializer: he, seed: seeds.next())
        bn1 = BatchNorm2D(s.width, momentum: m, epsilon: e)
        conv2 = Conv2D(s.width, s.width, kernel: 3, stride: s.stride,
                       padding: .conv2dSame(kernel: 3, stride: s.stride, dilation: s.dilation), dilation: s.dilation,
                       initializer: he, seed: seeds.next())
        bn2 = BatchNorm2D(s.width, momentum: m, epsilon: e)
        conv3 = Conv2D(s.width, s.outChannels, kernel: 1, bias: true, initializer: he, seed: seeds.next())
        super.init()
        register("preact", preact)
        register("conv1", conv1); register("bn1", bn1); register("conv2", conv2); register("bn2", bn2); register("conv3", conv3)
        if let projection { register("downsample", Module()).register("0", projection) }
        if c.zeroInitResidual { conv3.weight.assign(Tensor(zeros: conv3.weight.shape)) }
    }

    public static func weightCount(_ s: UnitSpec) -> Int { s.inChannels * s.width + 9 * s.width * s.width + s.width * s.outChannels }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let pre = preact(x, relu: true)
        let shortcut: Tensor
        if let projection {
            shortcut = projection(pre)
        } else if stride > 1 {
            shortcut = maxPool2d(x, kernel: 1, stride: stride)
            LayerTrace.recordOp(displayName + ".shortcut", type: "MaxPooling2D(1x1)",
                                operation: .maxPool(kernel: 1, stride: stride, padding: .valid), inputs: [x], output: shortcut)
        } else {
            shortcut = x
        }
        // conv3 has no batch norm: the residual add rides in its kernel as a post-op.
        return ConvBNChain(pre, in: self)
            .conv(conv1).bn(bn1).relu()
            .conv(conv2).bn(bn2).relu()
            .conv(conv3)
            .add(shortcut)
            .run()
    }
}
