import ResNetEngine
import ResNetLayers

/// The v1 bottleneck (He et al. 2015, fig. 5 right): 1x1 reduce, 3x3, 1x1 expand, each with BN,
/// ReLU after the first two and after the add. The stride sits where `strideIn` says. The 3x3 is
/// grouped for ResNeXt (Xie et al. 2017), and the inner width differs from the output's / 4 for
/// ResNeXt and Wide ResNet (Zagoruyko & Komodakis 2016), as torchvision's `Bottleneck`.
public final class Bottleneck: Module, ResidualUnit {
    public static let expansion = 4
    public static let takesGroups = true
    let conv1: Conv2D, bn1: BatchNorm2D, conv2: Conv2D, bn2: BatchNorm2D, conv3: Conv2D, bn3: BatchNorm2D
    var shortcut = V1Shortcut.identity

    public init(_ s: UnitSpec, config c: ResNetConfig, seeds: inout SeedSequence) {
        let (stride1, stride3) = c.strideIn == .conv1x1 ? (s.stride, 1) : (1, s.stride)
        conv1 = Conv2D(s.inChannels, s.width, kernel: 1, stride: stride1, seed: seeds.next())
        bn1 = BatchNorm2D(s.width, momentum: c.batchNormMomentum, epsilon: c.batchNormEpsilon)
        conv2 = Conv2D(s.width, s.width, kernel: 3, stride: stride3, padding: .symmetric(s.dilation), dilation: s.dilation,
                       groups: s.groups, seed: seeds.next())
        bn2 = BatchNorm2D(s.width, momentum: c.batchNormMomentum, epsilon: c.batchNormEpsilon)
        conv3 = Conv2D(s.width, s.outChannels, kernel: 1, seed: seeds.next())
        bn3 = BatchNorm2D(s.outChannels, momentum: c.batchNormMomentum, epsilon: c.batchNormEpsilon)
        super.init()
        register("conv1", conv1); register("bn1", bn1); register("conv2", conv2); register("bn2", bn2)
        register("conv3", conv3); register("bn3", bn3)
        shortcut = V1Shortcut(s, config: c, owner: self, seeds: &seeds)
        if c.zeroInitResidual { bn3.weight?.assign(Tensor(zeros: [s.outChannels])) }
    }

    public static func weightCount(_ s: UnitSpec) -> Int {
        s.inChannels * s.width + 9 * s.width * s.width / s.groups + s.width * s.outChannels
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        ConvBNChain(x, in: self)
            .conv(conv1).bn(bn1).relu()
            .conv(conv2).bn(bn2).relu()
            .conv(conv3).bn(bn3)
            .add(shortcut(x, owner: self)).relu()
            .run()
    }
}
