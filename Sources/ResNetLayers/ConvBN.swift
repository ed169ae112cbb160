import ResNetEngine

/// The unit every ResNet block is built from (He et al. 2015, section 3.4: "batch normalization
/// right after each convolution and before activation"): a convolution, its batch norm and an
/// activation. A value naming layers the block registers itself, so checkpoints keep torchvision's
/// names (`conv1`, `bn1`); how it runs — folded, fused or layer by layer — is `EngineContext.plan`'s choice.
public struct ConvBN {
    public enum Activation: Sendable { case none, relu }

    public let conv: Conv2D
    /// nil for a convolution alone (v2's biased conv3, He et al. 2016).
    public let bn: BatchNorm2D?
    public let activation: Activation

    public init(_ conv: Conv2D, _ bn: BatchNorm2D? = nil, _ activation: Activation = .none) {
        (self.conv, self.bn, self.activation) = (conv, bn, activation)
    }

    /// `activation(bn(conv(x)))`: a chain of one unit.
    public func callAsFunction(_ x: Tensor) -> Tensor { ConvBNChain(x, units: [self]).run() }

    /// What the planner needs to know of this unit.
    var shape: ConvBNChainShape.Unit {
        ConvBNChainShape.Unit(fanIn: conv.inChannelsPerGroup * conv.kernel * conv.kernel,
                              norm: bn.map { $0.usesBatchStatistics ? .batchStatistics : .runningStatistics },
                              relu: activation == .relu)
    }
}

extension Conv2D {
    /// `bn(conv(x))`, ReLU fused when asked: a stem or a projection shortcut.
    public func callAsFunction(_ x: Tensor, then bn: BatchNorm2D, relu: Bool = false) -> Tensor {
        ConvBN(self, bn, relu ? .relu : .none)(x)
    }
}
