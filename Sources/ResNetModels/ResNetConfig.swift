/// A ResNet described as data: the stage table plus the choices the papers and their successors
/// made differently. Every named model in `ResNetRegistry` is one of these values.
public struct ResNetConfig: Codable, Hashable, Sendable {
    /// v1: post-activation units (He et al. 2015). v2: pre-activation units (He et al. 2016),
    /// exactly as TF-slim's `resnet_v2` from the seed.
    public enum Version: String, Codable, Sendable { case v1, v2 }
    public enum BlockKind: String, Codable, Sendable {
        /// Two 3x3 convolutions (ResNet-18/34 and the CIFAR nets).
        case basic
        /// 1x1 reduce, 3x3, 1x1 expand by 4 (ResNet-50 and deeper).
        case bottleneck
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
    /// Inner (bottleneck) width per stage; a stage outputs width x expansion channels.
    public var stageWidths: [Int]
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
                stem: Stem = .imagenet, shortcut: Shortcut = .b, strideIn: StrideIn = .conv3x3, numClasses: Int? = 1000,
                inputChannels: Int = 3, globalPool: Bool = true, outputStride: Int? = nil, zeroInitResidual: Bool = false,
                batchNormMomentum: Float = 0.1, batchNormEpsilon: Float = 1e-5, seed: UInt64 = 0) {
        self.name = name; self.version = version; self.block = block
        self.stageDepths = stageDepths; self.stageWidths = stageWidths
        self.stem = stem; self.shortcut = shortcut; self.strideIn = strideIn
        self.numClasses = numClasses; self.inputChannels = inputChannels; self.globalPool = globalPool
        self.outputStride = outputStride; self.zeroInitResidual = zeroInitResidual
        self.batchNormMomentum = batchNormMomentum; self.batchNormEpsilon = batchNormEpsilon; self.seed = seed
    }

    /// Output channels per inner channel: 4 for bottlenecks, 1 for basic blocks.
    public var expansion: Int { block == .bottleneck ? 4 : 1 }
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

    /// Checks the combination, naming the field at fault.
    public func validate() throws {
        guard !stageDepths.isEmpty, stageDepths.count == stageWidths.count, stageDepths.allSatisfy({ $0 > 0 }) else {
            throw ConfigError.invalid("stageDepths \(stageDepths) and stageWidths \(stageWidths) must be non-empty, positive and of equal length")
        }
        if let s = outputStride, ![8, 16, 32].contains(s) || s % stemStride != 0 {
            throw ConfigError.invalid("outputStride must be 8, 16 or 32 (got \(s))")
        }
        if let k = numClasses, k < 1 { throw ConfigError.invalid("numClasses must be at least 1 (got \(k))") }
        if inputChannels < 1 { throw ConfigError.invalid("inputChannels must be at least 1 (got \(inputChannels))") }
        if version == .v2 && block != .bottleneck { throw ConfigError.invalid("v2 (pre-activation) models use bottleneck blocks") }
    }
}

public enum ConfigError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    case unknownModel(String, known: [String])

    public var description: String {
        switch self {
        case .invalid(let s): return "invalid model configuration: \(s)"
        case .unknownModel(let n, let known): return "unknown model '\(n)'; known models: \(known.joined(separator: ", "))"
        }
    }
}
