import ResNetEngine
import ResNetLayers

/// A stage of residual units (torchvision's `layer1` … `layer4`), units named "0", "1", ….
public final class Stage: Module {
    public let units: [any ResidualUnit]
    init(_ units: [any ResidualUnit]) {
        self.units = units
        super.init()
        for (i, u) in units.enumerated() { register(String(i), u) }
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { units.reduce(x) { $1($0) } }
}

/// A residual network built from a `ResNetConfig`: stem, stages of units, head.
public final class ResNet: Module {
    public let config: ResNetConfig
    let conv1: Conv2D
    let bn1: BatchNorm2D?
    let maxpool: MaxPool2D?
    public let stages: [Stage]
    let postnorm: BatchNorm2D?
    let avgpool: GlobalAvgPool2D?
    let fc: Linear?

    public init(_ c: ResNetConfig) throws {
        try c.validate()
        config = c
        var seeds = SeedSequence(c.seed)
        let (m, e) = (c.batchNormMomentum, c.batchNormEpsilon)
        let init_ = Initializer.heNormal(mode: c.version == .v1 ? .fanOut : .fanIn)
        switch (c.stem, c.version) {
        case (.imagenet, .v1):
            conv1 = Conv2D(c.inputChannels, 64, kernel: 7, stride: 2, padding: .symmetric(3), initializer: init_, seed: seeds.next())
            bn1 = BatchNorm2D(64, momentum: m, epsilon: e)
            maxpool = MaxPool2D(kernel: 3, stride: 2, padding: .symmetric(1))
        case (.imagenet, .v2):
            // TF-slim's root block: conv2d_same 7x7/2 with bias, no BN (the first unit's preact does it).
            conv1 = Conv2D(c.inputChannels, 64, kernel: 7, stride: 2, padding: .conv2dSame(kernel: 7, stride: 2),
                           bias: true, initializer: init_, seed: seeds.next())
            bn1 = nil
            maxpool = MaxPool2D(kernel: 3, stride: 2, padding: .same)
        case (.cifar, _):
            conv1 = Conv2D(c.inputChannels, c.stemWidth, kernel: 3, padding: .symmetric(1), initializer: init_, seed: seeds.next())
            bn1 = c.version == .v1 ? BatchNorm2D(c.stemWidth, momentum: m, epsilon: e) : nil
            maxpool = nil
        }
        stages = ResNet.makeStages(c, seeds: &seeds)
        postnorm = c.version == .v2 ? BatchNorm2D(c.featureChannels, momentum: m, epsilon: e) : nil
        avgpool = c.globalPool ? GlobalAvgPool2D() : nil
        fc = (c.globalPool ? c.numClasses : nil).map { Linear(c.featureChannels, $0, seed: seeds.next()) }
        super.init()
        register("conv1", conv1)
        if let bn1 { register("bn1", bn1) }
        if let maxpool { register("maxpool", maxpool) }
        for (i, s) in stages.enumerated() { register("layer\(i + 1)", s) }
        if let postnorm { register("postnorm", postnorm) }
        if let avgpool { register("avgpool", avgpool) }
        if let fc { register("fc", fc) }
    }

    /// Lays the units out stage by stage. With `outputStride`, once the running stride reaches it,
    /// strides become atrous rates instead (TF-slim's `stack_blocks_dense`).
    static func makeStages(_ c: ResNetConfig, seeds: inout SeedSequence) -> [Stage] {
        var inChannels = c.stemWidth
        var currentStride = c.stemStride, rate = 1
        var stages: [Stage] = []
        for (s, depth) in c.stageDepths.enumerated() {
            var units: [any ResidualUnit] = []
            for i in 0..<depth {
                let strided = c.version == .v1 ? i == 0 : i == depth - 1
                let unitStride = strided ? c.stageStride(s) : 1
                let stride: Int, dilation: Int
                if let target = c.outputStride, currentStride == target {
                    (stride, dilation) = (1, rate)
                    rate *= unitStride
                } else {
                    (stride, dilation) = (unitStride, c.version == .v2 ? 1 : rate)
                    currentStride *= unitStride
                }
                let spec = UnitSpec(inChannels: inChannels, width: c.innerWidth(stage: s), outChannels: c.stageWidths[s] * c.expansion,
                                    stride: stride, dilation: dilation, groups: c.groups)
                units.append(c.unitType!.init(spec, config: c, seeds: &seeds))   // validate() found the type
                inChannels = spec.outChannels
            }
            stages.append(Stage(units))
        }
        return stages
    }

    /// Logits [N, classes] (or pooled features, or the last feature map, as configured) for NHWC `x`.
    public func callAsFunction(_ x: Tensor) -> Tensor { endPoints(x).last!.tensor }

    /// The named outputs along the way, as TF-slim's `end_points`: "stem", "layer1" … "layerK",
    /// then "postnorm" (v2), "pool" and "logits" when present. For feature extraction.
    public func endPoints(_ x: Tensor) -> [(name: String, tensor: Tensor)] {
        precondition(x.rank == 4 && x.shape[3] == config.inputChannels,
                     "\(config.name) expects NHWC input with \(config.inputChannels) channel(s), got \(x.shape)")
        var out: [(name: String, tensor: Tensor)] = []
        var h = bn1.map { conv1(x, then: $0, relu: true) } ?? conv1(x)
        if let maxpool { h = maxpool(h) }
        out.append(("stem", h))
        for (i, stage) in stages.enumerated() {
            h = stage(h)
            out.append(("layer\(i + 1)", h))
        }
        if let postnorm {
            h = postnorm(h, relu: true)
            out.append(("postnorm", h))
        }
        if let avgpool {
            h = avgpool(h)
            out.append(("pool", h))
        }
        if let fc {
            h = fc(h)
            out.append(("logits", h))
        }
        return out
    }
}
