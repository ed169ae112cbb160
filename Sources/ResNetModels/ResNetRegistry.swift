/// Every network of the two ResNet papers, and torchvision's ResNeXt and Wide ResNet, by name, as the CLI and checkpoints spell them.
public enum ResNetRegistry {
    private static let imagenetWidths = [64, 128, 256, 512]
    private static let cifarWidths = [16, 32, 64]

    /// The stage tables (He et al. 2015, table 1 and section 4.2; He et al. 2016 for v2).
    public static let configs: [ResNetConfig] = [
        ResNetConfig(name: "resnet18", version: .v1, block: .basic, stageDepths: [2, 2, 2, 2], stageWidths: imagenetWidths),
        ResNetConfig(name: "resnet34", version: .v1, block: .basic, stageDepths: [3, 4, 6, 3], stageWidths: imagenetWidths),
        ResNetConfig(name: "resnet50", version: .v1, block: .bottleneck, stageDepths: [3, 4, 6, 3], stageWidths: imagenetWidths),
        ResNetConfig(name: "resnet101", version: .v1, block: .bottleneck, stageDepths: [3, 4, 23, 3], stageWidths: imagenetWidths),
        ResNetConfig(name: "resnet152", version: .v1, block: .bottleneck, stageDepths: [3, 8, 36, 3], stageWidths: imagenetWidths),
        v2("resnet_v2_50", [3, 4, 6, 3]),
        v2("resnet_v2_101", [3, 4, 23, 3]),
        v2("resnet_v2_152", [3, 8, 36, 3]),
        v2("resnet_v2_200", [3, 24, 36, 3]),
        // ResNeXt (Xie et al. 2017) and Wide ResNet (Zagoruyko & Komodakis 2016) as torchvision builds them.
        grouped("resnext50_32x4d", [3, 4, 6, 3], groups: 32, widthPerGroup: 4),
        grouped("resnext101_32x8d", [3, 4, 23, 3], groups: 32, widthPerGroup: 8),
        grouped("resnext101_64x4d", [3, 4, 23, 3], groups: 64, widthPerGroup: 4),
        grouped("wide_resnet50_2", [3, 4, 6, 3], groups: 1, widthPerGroup: 128),
        grouped("wide_resnet101_2", [3, 4, 23, 3], groups: 1, widthPerGroup: 128),
        cifar("resnet20", 3), cifar("resnet32", 5), cifar("resnet44", 7), cifar("resnet56", 9), cifar("resnet110", 18),
    ]

    /// TF-slim's v2 as in the seed: conv2d_same padding, BN decay 0.997, He fan-in init.
    private static func v2(_ name: String, _ depths: [Int]) -> ResNetConfig {
        ResNetConfig(name: name, version: .v2, block: .bottleneck, stageDepths: depths, stageWidths: imagenetWidths,
                     batchNormMomentum: 0.003, batchNormEpsilon: 1e-5)
    }

    /// torchvision's v1.5 bottleneck network with a grouped and/or widened 3x3: same key names as ResNet.
    private static func grouped(_ name: String, _ depths: [Int], groups: Int, widthPerGroup: Int) -> ResNetConfig {
        ResNetConfig(name: name, version: .v1, block: .bottleneck, stageDepths: depths, stageWidths: imagenetWidths,
                     groups: groups, widthPerGroup: widthPerGroup)
    }

    /// 6n + 2 layers on 32x32 images: three stages of n basic units, 16/32/64 channels, shortcut A.
    private static func cifar(_ name: String, _ n: Int) -> ResNetConfig {
        ResNetConfig(name: name, version: .v1, block: .basic, stageDepths: [n, n, n], stageWidths: cifarWidths,
                     stem: .cifar, shortcut: .a, numClasses: 10)
    }

    public static var names: [String] { configs.map(\.name) }

    /// The residual unit each version's block kind builds (`ResNetConfig.unitType`). A new block type
    /// is one file, a `ResidualUnit` class, and its entry here (README, "Adding a block type").
    public static let blockTypes: [ResNetConfig.Version: [ResNetConfig.BlockKind: any ResidualUnit.Type]] = [
        .v1: [.basic: BasicBlock.self, .bottleneck: Bottleneck.self],
        .v2: [.bottleneck: PreActBottleneck.self],
    ]

    /// The registered block types that take `groups`, as messages name them: "v1 bottleneck".
    static var groupedBlockNames: String {
        blockTypes.flatMap { version, kinds in kinds.filter { $0.value.takesGroups }.map { "\(version) \($0.key)" } }
            .sorted().joined(separator: ", ")
    }

    /// The configuration registered as `name`; throws listing the known names otherwise.
    public static func config(_ name: String) throws -> ResNetConfig {
        guard let c = configs.first(where: { $0.name == name }) else { throw ConfigError.unknownModel(name, known: names) }
        return c
    }

    /// Builds the model registered as `name`, after letting `customize` change options.
    public static func make(_ name: String, _ customize: (inout ResNetConfig) -> Void = { _ in }) throws -> ResNet {
        var c = try config(name)
        customize(&c)
        return try ResNet(c)
    }
}
