import ResNetEngine
import ResNetLayers

/// The v1 basic block (He et al. 2015, fig. 2 left): 3x3, BN, ReLU, 3x3, BN, add, ReLU.
public final class BasicBlock: Module, ResidualUnit {
    public static let expansion = 1
    let conv1: Conv2D, bn1: BatchNorm2D, conv2: Conv2D, bn2: BatchNorm2D
    var shortcut = V1Shortcut.identity

    public init(_ s: UnitSpec, config c: ResNetConfig, seeds: inout SeedSequence) {
        let pad = Padding.symmetric(s.dilation)
        conv1 = Conv2D(s.inChannels, s.width, kernel: 3, stride: s.stride, padding: pad, dilation: s.dilation, seed: seeds.next())
        bn1 = BatchNorm2D(s.width, momentum: c.batchNormMomentum, epsilon: c.batchNormEpsilon)
        conv2 = Conv2D(s.width, s.outChannels, kernel: 3, padding: pad, dilation: s.dilation, seed: seeds.next())
        bn2 = BatchNorm2D(s.outChannels, momentum: c.batchNormMomentum, epsilon: c.batchNormEpsilon)
        super.init()
        register("conv1", conv1); register("bn1", bn1); register("conv2", conv2); register("bn2", bn2)
        shortcut = V1Shortcut(s, config: c, owner: self, seeds: &seeds)
        if c.zeroInitResidual { bn2.weight?.assign(Tensor(zeros: [s.outChannels])) }
    }

    public static func weightCount(_ s: UnitSpec) -> Int { 9 * (s.inChannels * s.width + s.width * s.outChannels) }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        ConvBNChain(x, in: self)
            .conv(conv1).bn(bn1).relu()
            .conv(conv2).bn(bn2)
            .add(shortcut(x, owner: self)).relu()
            .run()
    }
}
