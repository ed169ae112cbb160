import ResNetEngine
import ResNetLayers

/// The shape of one residual unit, read off the stage table.
public struct UnitSpec: Hashable, Sendable {
    public let inChannels: Int
    /// The inner width (the bottleneck's 3x3 channels; a basic block's channels).
    public let width: Int
    public let outChannels: Int
    public let stride: Int
    /// Atrous rate of the 3x3 convolution (1 unless `outputStride` asks for dense features).
    public let dilation: Int
    /// Groups of the bottleneck's 3x3 convolution (ResNeXt's cardinality; 1 otherwise).
    public var groups: Int = 1

    public init(inChannels: Int, width: Int, outChannels: Int, stride: Int = 1, dilation: Int = 1, groups: Int = 1) {
        (self.inChannels, self.width, self.outChannels) = (inChannels, width, outChannels)
        (self.stride, self.dilation, self.groups) = (stride, dilation, groups)
    }
}

/// A residual unit: output = F(x) + shortcut(x), for whatever F the block kind defines (He et al. 2015,
/// eq. 1). A type conforming to it, plus its line in `ResNetRegistry.blockTypes`, is a new block kind:
/// the configuration reads its expansion, grouping and weight count from here.
public protocol ResidualUnit: Module {
    /// Output channels per stage width: 4 for bottlenecks, 1 for basic blocks (He et al. 2015, table 1).
    static var expansion: Int { get }
    /// Whether the unit takes `groups` and `widthPerGroup` (ResNeXt's grouped 3x3, Xie et al. 2017).
    static var takesGroups: Bool { get }
    /// Convolution weights of one unit of this shape, shortcut excluded: what `ResNetConfig.validate()` bounds.
    static func weightCount(_ spec: UnitSpec) -> Int
    /// The unit of shape `spec`, registering torchvision's child names, weights drawn from `seeds`.
    init(_ spec: UnitSpec, config: ResNetConfig, seeds: inout SeedSequence)
    func callAsFunction(_ x: Tensor) -> Tensor
}

extension ResidualUnit {
    public static var takesGroups: Bool { false }
}

/// torchvision's `downsample`: a 1x1 projection and its batch norm, children "0" and "1".
public final class ProjectionShortcut: Module {
    public let conv: Conv2D
    public let bn: BatchNorm2D

    init(_ spec: UnitSpec, config c: ResNetConfig, seeds: inout SeedSequence) {
        conv = Conv2D(spec.inChannels, spec.outChannels, kernel: 1, stride: spec.stride, seed: seeds.next())
        bn = BatchNorm2D(spec.outChannels, momentum: c.batchNormMomentum, epsilon: c.batchNormEpsilon)
        super.init()
        register("0", conv)
        register("1", bn)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { conv(x, then: bn) }
}

/// The v1 shortcut of a unit, chosen by the paper's options A, B and C.
enum V1Shortcut {
    case identity
    case zeroPad(channels: Int, stride: Int)
    case projection(ProjectionShortcut)

    init(_ spec: UnitSpec, config c: ResNetConfig, owner: Module, seeds: inout SeedSequence) {
        let reshaped = spec.stride != 1 || spec.inChannels != spec.outChannels
        switch c.shortcut {
        case .a where reshaped: self = .zeroPad(channels: spec.outChannels, stride: spec.stride)
        case .b where reshaped, .c: self = .projection(owner.register("downsample", ProjectionShortcut(spec, config: c, seeds: &seeds)))
        default: self = .identity
        }
    }

    func callAsFunction(_ x: Tensor, owner: Module) -> Tensor {
        switch self {
        case .identity: return x
        case .projection(let p): return p(x)
        case .zeroPad(let channels, let stride):
            let y = padChannelsSubsample(x, channels: channels, stride: stride)
            LayerTrace.recordOp(owner.displayName + ".shortcut", type: "ZeroPadShortcut",
                                operation: .zeroPadShortcut(channels: channels, stride: stride), inputs: [x], output: y)
            return y
        }
    }
}
