/// A ResNet described as data: the stage table plus the choices the papers and their successors
/// made differently. Every named model in `ResNetRegistry` is one of these values.
public struct ResNetConfig: Codable, Hashable, Sendable {
    /// v1: post-activation units (He et al. 2015). v2: pre-activation units (He et al. 2016),
    /// exactly as TF-slim's `resnet_v2` from the seed.
    public enum Version: String, Codable, Sendable { case v1, v2 }
    /// The residual unit a stage repeats, by the name checkpoints store; `ResNetRegistry.blockTypes`
    /// maps it (with the version) to its `ResidualUnit` type. A struct, not an enum, so a new block
    /// type's file can add its name: `extension ResNetConfig.BlockKind { static let mine: Self = "mine" }`.
    public struct BlockKind: RawRepresentable, Hashable, Codable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { rawValue = value }
        public var description: String { rawValue }

        /// Two 3x3 convolutions (ResNet-18/34 and the CIFAR nets).
        public static let basic: BlockKind = "basic"
        /// 1x1 reduce, 3x3, 1x1 expand by 4 (ResNet-50 and deeper).
        public static let bottleneck: BlockKind = "bottleneck"
    }
    /// How a unit's shortcut meets a change of shape (He et al. 2015, section 4.1).
    public enum Shortcut: String, Codable, Sendable {
        /// Identity, zero-padding the extra channels and subsampling: no parameters.
        case a
        /// 1x1 projection (conv + BN) only where the shape changes (torchvision's `downsample`).
        case b
        /// 1x1 projection on every unit.
        case c
    }
    /// Where a downsampling bottleneck puts its stride.
    public enum StrideIn: String, Codable, Sendable {
        /// The first 1x1 convolution, as the paper and Keras's ResNet50.
        case conv1x1
        /// The 3x3 convolution, torchvision's "ResNet v1.5" (a little more accurate).
        case conv3x3
    }
    public enum Stem: String, Codable, Sendable {
        /// 7x7/2 convolution to 64 channels, then 3x3/2 max pool (overall stride 4).
        case imagenet
        /// 3x3/1 convolution to 16 channels, no pooling: the CIFAR networks of section 4.2.
        case cifar
    }

    public var name: String
    public var version: Version
    public var block: BlockKind
    /// Units per stage, e.g. [3, 4, 6, 3] for ResNet-50.
    public var stageDepths: [Int]
    /// Width per stage (torchvision's `planes`): a stage outputs width x expansion channels, and a
    /// bottleneck's inner width is `innerWidth(stage:)`, the same unless `groups`/`widthPerGroup` change it.
    public var stageWidths: [Int]
    /// Groups of the bottleneck's 3x3 convolution: ResNeXt's cardinality (Xie et al. 2017). 1 for ResNet.
    public var groups: Int
    /// torchvision's `base_width`: the inner width is stageWidth x widthPerGroup / 64 per group, so 64
    /// is ResNet, 4 with 32 groups is ResNeXt 32x4d, and 128 with 1 group is Wide ResNet-50-2's doubled
    /// inner width (Zagoruyko & Komodakis 2016).
    public var widthPerGroup: Int
    public var stem: Stem
    public var shortcut: Shortcut
    public var strideIn: StrideIn
    /// Classes of the classifier; nil for a headless feature extractor.
    public var numClasses: Int?
    public var inputChannels: Int
    /// Global average pooling at the end; off keeps the last feature map (as TF-slim's `global_pool`).
    public var globalPool: Bool
    /// 8 or 16 turns later strides into atrous convolutions (TF-slim's `output_stride`); nil keeps 32.
    public var outputStride: Int?
    /// Starts each residual branch at zero (Goyal et al. 2017), so every unit begins as an identity.
    public var zeroInitResidual: Bool
    /// Batch-norm momentum (PyTorch convention; TF-slim's decay 0.997 is 0.003).
    public var batchNormMomentum: Float
    public var batchNormEpsilon: Float
    public var seed: UInt64

    public init(name: String, version: Version, block: BlockKind, stageDepths: [Int], stageWidths: [Int],
                groups: Int = 1, widthPerGroup: Int = 64, stem: Stem = .imagenet, shortcut: Shortcut = .b, strideIn: StrideIn = .conv3x3, numClasses: Int? = 1000,
                inputChannels: Int = 3, globalPool: Bool = true, outputStride: Int? = nil, zeroInitResidual: Bool = false,
                batchNormMomentum: Float = 0.1, batchNormEpsilon: Float = 1e-5, seed: UInt64 = 0) {
        self.name = name; self.version = version; self.block = block
        self.stageDepths = stageDepths; self.stageWidths = stageWidths
        self.groups = groups; self.widthPerGroup = widthPerGroup
        self.stem = stem; self.shortcut = shortcut; self.strideIn = strideIn
        self.numClasses = numClasses; self.inputChannels = inputChannels; self.globalPool = globalPool
        self.outputStride = outputStride; self.zeroInitResidual = zeroInitResidual
        self.batchNormMomentum = batchNormMomentum; self.batchNormEpsilon = batchNormEpsilon; self.seed = seed
    }

    /// Decodes every field; `groups` and `widthPerGroup` may be missing (checkpoints written before
    /// ResNeXt) and then mean plain ResNet, 1 and 64. Synthesized decoding would reject such files.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        version = try c.decode(Version.self, forKey: .version)
        block = try c.decode(BlockKind.self, forKey: .block)
        stageDepths = try c.decode([Int].self, forKey: .stageDepths)
        stageWidths = try c.decode([Int].self, forKey: .stageWidths)
        groups = try c.decodeIfPresent(Int.self, forKey: .groups) ?? 1
        widthPerGroup = try c.decodeIfPresent(Int.self, forKey: .widthPerGroup) ?? 64
        stem = try c.decode(Stem.self, forKey: .stem)
        shortcut = try c.decode(Shortcut.self, forKey: .shortcut)
        strideIn = try c.decode(StrideIn.self, forKey: .strideIn)
        numClasses = try c.decodeIfPresent(Int.self, forKey: .numClasses)
        inputChannels = try c.decode(Int.self, forKey: .inputChannels)
        globalPool = try c.decode(Bool.self, forKey: .globalPool)
        outputStride = try c.decodeIfPresent(Int.self, forKey: .outputStride)
        zeroInitResidual = try c.decode(Bool.self, forKey: .zeroInitResidual)
        batchNormMomentum = try c.decode(Float.self, forKey: .batchNormMomentum)
        batchNormEpsilon = try c.decode(Float.self, forKey: .batchNormEpsilon)
        seed = try c.decode(UInt64.self, forKey: .seed)
    }

    /// Channels of a stage's bottleneck 3x3 convolution, as torchvision computes them:
    /// `int(planes * base_width / 64) * groups`. A basic block's width is the stage width.
    public func innerWidth(stage s: Int) -> Int {
        unitType?.takesGroups == true ? stageWidths[s] * widthPerGroup / 64 * groups : stageWidths[s]
    }

    /// The unit type `ResNetRegistry.blockTypes` registers for this version and block; nil if none.
    public var unitType: (any ResidualUnit.Type)? { ResNetRegistry.blockTypes[version]?[block] }

    /// Output channels per inner channel: 4 for bottlenecks, 1 for basic blocks (the unit type's `expansion`).
    public var expansion: Int { unitType?.expansion ?? 1 }
    public var stemWidth: Int { stem == .imagenet ? 64 : stageWidths[0] }
    /// Spatial stride of the stem: 4 with the ImageNet stem's conv and pool, 1 for CIFAR.
    public var stemStride: Int { stem == .imagenet ? 4 : 1 }
    /// Channels out of the last stage: the classifier's input features.
    public var featureChannels: Int { stageWidths.last! * expansion }

    /// Stride of each stage: the first stage keeps the resolution, every later one halves it.
    /// v1 strides a stage's first unit; TF-slim's v2 strides the last unit of the previous stage
    /// (blocks 1-3), which is the same overall shape schedule.
    func stageStride(_ stage: Int) -> Int {
        switch version {
        case .v1: return stage == 0 ? 1 : 2
        case .v2: return stage == stageDepths.count - 1 ? 1 : 2
        }
    }

    // MARK: Limits
    // A configuration can come from a user's checkpoint.json or CLI options, so every field is
    // bounded before anything is allocated: far beyond any published ResNet, far below what
    // would exhaust memory or overflow a kernel's index arithmetic.

    /// Stages per network (the papers use 3 or 4).
    public static let maxStages = 8
    /// Units per stage (ResNet-1202, the deepest in the papers, has 200).
    public static let maxStageDepth = 1000
    /// Width of a stage, and inner width of its bottleneck (the papers' widest is 512; ResNeXt-101 64x4d's inner 2048).
    public static let maxStageWidth = 16384
    /// Groups of the bottleneck's 3x3 convolution (ResNeXt's widest cardinality is 64).
    public static let maxGroups = 1024
    /// torchvision's `base_width` (Wide ResNet-50-2's is 128).
    public static let maxWidthPerGroup = 16384
    public static let maxClasses = 100_000
    /// Input channels (the CLI uses 1 or 3).
    public static let maxInputChannels = 64
    /// Weights of all convolutions and the classifier: 4 GB of float32 (ResNet-200 has 65 million).
    public static let maxParameters = 1_000_000_000
    /// Input height and width, in pixels. A summary keeps every layer's output alive while it traces
    /// (about 5 KB per input pixel for ResNet-200): 1024 stays near 5 GB, 4096 ran out of 23 GB.
    public static let maxInputSize = 1024
    /// Every window in these networks is padded so that its output is ceil(input / stride): a
    /// 1-pixel input keeps a 1x1 map through every convolution and pool (224 ends at 7x7).
    public static let minInputSize = 1
    /// Images per batch.
    public static let maxBatchSize = 4096
    /// Elements of the largest activation (8 GiB of float32), so a batch's memory fails here, not in a kernel.
    public static let maxActivationElements = 1 << 31

    /// Checks every field and the combination, naming the field at fault and its limit. `ResNet(_:)`
    /// calls it before allocating anything, since a config may come from a user's file.
    public func validate() throws {
        func bad(_ s: String) -> ConfigError { .invalid(s) }
        guard !name.isEmpty else { throw bad("name must not be empty") }
        guard (1...Self.maxStages).contains(stageDepths.count), stageDepths.count == stageWidths.count else {
            throw bad("stageDepths \(stageDepths) and stageWidths \(stageWidths) must be non-empty, of equal length and at most \(Self.maxStages) stages")
        }
        if let d = stageDepths.first(where: { !(1...Self.maxStageDepth).contains($0) }) {
            throw bad("stageDepths must each be between 1 and \(Self.maxStageDepth) (got \(d))")
        }
        if let w = stageWidths.first(where: { !(1...Self.maxStageWidth).contains($0) }) {
            throw bad("stageWidths must each be between 1 and \(Self.maxStageWidth) (got \(w))")
        }
        guard (1...Self.maxGroups).contains(groups) else {
            throw bad("groups must be between 1 and \(Self.maxGroups) (got \(groups))")
        }
        guard (1...Self.maxWidthPerGroup).contains(widthPerGroup) else {
            throw bad("widthPerGroup must be between 1 and \(Self.maxWidthPerGroup) (got \(widthPerGroup))")
        }
        guard let unitType else {
            let known = (ResNetRegistry.blockTypes[version] ?? [:]).keys.map(\.rawValue).sorted().joined(separator: ", ")
            throw bad("\(version) models have no '\(block)' blocks (registered: \(known))")
        }
        // torchvision's BasicBlock refuses them too; the v2 unit here has no grouped variant.
        if (groups != 1 || widthPerGroup != 64) && !unitType.takesGroups {
            throw bad("groups and widthPerGroup apply only to \(ResNetRegistry.groupedBlockNames) blocks (got groups \(groups), widthPerGroup \(widthPerGroup) with \(version) \(block) blocks)")
        }
        for s in stageWidths.indices {
            // inner = (width * widthPerGroup / 64) * groups, so groups divides it whenever it is positive.
            let inner = innerWidth(stage: s)
            guard (1...Self.maxStageWidth).contains(inner) else {
                throw bad("the inner width of stage \(s + 1), stageWidths \(stageWidths[s]) x widthPerGroup \(widthPerGroup) / 64 x groups \(groups) = \(inner), must be a positive multiple of groups and at most \(Self.maxStageWidth)")
            }
        }
        if let s = outputStride, ![8, 16, 32].contains(s) || s % stemStride != 0 {
            throw bad("outputStride must be 8, 16 or 32 (got \(s))")
        }
        if let k = numClasses, !(1...Self.maxClasses).contains(k) {
            throw bad("numClasses must be between 1 and \(Self.maxClasses) (got \(k))")
        }
        guard (1...Self.maxInputChannels).contains(inputChannels) else {
            throw bad("inputChannels must be between 1 and \(Self.maxInputChannels) (got \(inputChannels))")
        }
        guard batchNormEpsilon.isFinite && batchNormEpsilon > 0 else {
            throw bad("batchNormEpsilon must be positive and finite (got \(batchNormEpsilon))")
        }
        guard batchNormMomentum.isFinite && (0...1).contains(batchNormMomentum) else {
            throw bad("batchNormMomentum must be between 0 and 1 (got \(batchNormMomentum))")
        }
        // Option A zero-pads the shortcut's channels: it cannot drop any, so no unit may narrow.
        if shortcut == .a, version == .v1 {
            var channels = stemWidth
            for w in stageWidths {
                guard w * expansion >= channels else {
                    throw bad("shortcut a cannot reduce channels from \(channels) to \(w * expansion): stageWidths must not shrink (use shortcut b)")
                }
                channels = w * expansion
            }
        }
        let parameters = estimatedWeightCount
        guard parameters <= Self.maxParameters else {
            throw bad("\(parameters) weights are above the limit \(Self.maxParameters) (stageWidths \(stageWidths), stageDepths \(stageDepths))")
        }
    }

    /// Convolution and classifier weights, counted from the table without building anything:
    /// what `validate()` bounds (biases and batch norm add under 1%).
    public var estimatedWeightCount: Int {
        var total = inputChannels * stemWidth * (stem == .imagenet ? 49 : 9)
        var inChannels = stemWidth
        for (s, (depth, width)) in zip(stageDepths, stageWidths).enumerated() {
            let out = width * expansion, inner = innerWidth(stage: s)
            for i in 0..<depth {
                let unitIn = i == 0 ? inChannels : out
                total += unitType?.weightCount(UnitSpec(inChannels: unitIn, width: inner, outChannels: out, groups: groups)) ?? 0
                if shortcut == .c || (shortcut == .b || version == .v2) && (i == 0 || unitIn != out) { total += unitIn * out }
            }
            inChannels = out
        }
        if globalPool, let k = numClasses { total += featureChannels * k }
        return total
    }

    /// Height and width of the last feature map for an input of `height` x `width`: every window
    /// here outputs ceil(input / stride), so 224 gives 7 with the ImageNet stem.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        let s = totalStride
        return ((height + s - 1) / s, (width + s - 1) / s)
    }

    /// Spatial stride from input to the last feature map: the stem's, times 2 for every later
    /// stage until `outputStride` is reached.
    public var totalStride: Int {
        let natural = stemStride << min(max(stageDepths.count - 1, 0), 16)
        return outputStride.map { min($0, natural) } ?? natural
    }

    /// Checks an NHWC input shape [batch, height, width, channels] the way `validateInput(height:width:batchSize:)`
    /// does, and its channels against `inputChannels`: what `ResNet.endPoints` would otherwise trap on.
    public func validateInput(shape: [Int]) throws {
        guard shape.count == 4 else {
            throw ConfigError.invalidInput("\(name) expects NHWC input [batch, height, width, \(inputChannels)], got shape \(shape)")
        }
        guard shape[3] == inputChannels else {
            throw ConfigError.invalidInput("\(name) expects \(inputChannels) input channel(s), got \(shape[3]) (shape \(shape))")
        }
        try validateInput(height: shape[1], width: shape[2], batchSize: shape[0])
    }

    /// Checks the configuration, then an input size (and batch) before a tensor is allocated: at least `minInputSize`,
    /// at most `maxInputSize` pixels a side, a batch of 1...`maxBatchSize`, and no activation
    /// above `maxActivationElements`. The messages name the model and the limit.
    public func validateInput(height: Int, width: Int, batchSize: Int = 1) throws {
        try validate()
        for size in [height, width] {
            guard size >= Self.minInputSize else {
                throw ConfigError.invalidInput("image size \(size) is below the minimum \(Self.minInputSize) for \(name)")
            }
            guard size <= Self.maxInputSize else {
                throw ConfigError.invalidInput("image size \(size) is above the limit \(Self.maxInputSize) for \(name)")
            }
        }
        guard (1...Self.maxBatchSize).contains(batchSize) else {
            throw ConfigError.invalidInput("batch size \(batchSize) must be between 1 and \(Self.maxBatchSize)")
        }
        // Stage s runs at stride stemStride * 2^s (capped by outputStride) with width x expansion
        // channels; the ImageNet stem's convolution outputs 64 channels at half the input.
        var largest = batchSize * height * width * max(inputChannels, stem == .imagenet ? (stemWidth + 3) / 4 : stemWidth)
        for (s, w) in stageWidths.enumerated() {
            let stride = min(stemStride << min(s, 16), outputStride ?? Int.max)
            largest = max(largest, batchSize * ((height + stride - 1) / stride) * ((width + stride - 1) / stride) * w * expansion)
            // The inner width before a strided 3x3 runs at the previous stage's resolution.
            let before = s == 0 ? stride : min(stemStride << min(s - 1, 16), outputStride ?? Int.max)
            largest = max(largest, batchSize * ((height + before - 1) / before) * ((width + before - 1) / before) * innerWidth(stage: s))
        }
        guard largest <= Self.maxActivationElements else {
            throw ConfigError.invalidInput("batch \(batchSize) of \(height)x\(width) images needs an activation of \(largest) values in \(name), above the limit \(Self.maxActivationElements)")
        }
    }
}

public enum ConfigError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    /// An input (image size, batch, shape) the model cannot take; the configuration itself is fine.
    case invalidInput(String)
    case unknownModel(String, known: [String])

    public var description: String {
        switch self {
        case .invalid(let s): return "invalid model configuration: \(s)"
        case .invalidInput(let s): return "invalid input: \(s)"
        case .unknownModel(let n, let known): return "unknown model '\(n)'; known models: \(known.joined(separator: ", "))"
        }
    }
}
