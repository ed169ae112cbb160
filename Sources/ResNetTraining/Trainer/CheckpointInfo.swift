import Foundation
import ResNetData
import ResNetModels

/// How an image becomes a network input; saved so `evaluate` and `predict` see what training saw.
public struct Preprocessing: Codable, Equatable, Sendable {
    public var height: Int
    public var width: Int
    public var channels: Int
    public var rescale: Float
    public var mean: [Float]?
    public var std: [Float]?
    /// "nearest" (Keras's default) or "bilinear".
    public var resizeFilter: String?
    /// torchvision's evaluation transform: the shorter side is resized to this, keeping the aspect
    /// ratio, then the centre `height` x `width` is cropped. nil: resized straight to `height` x `width`.
    public var resizeShorter: Int?

    public init(height: Int, width: Int, channels: Int, rescale: Float, mean: [Float]? = nil, std: [Float]? = nil,
                resizeFilter: String? = nil, resizeShorter: Int? = nil) {
        self.height = height; self.width = width; self.channels = channels
        self.rescale = rescale; self.mean = mean; self.std = std; self.resizeFilter = resizeFilter
        self.resizeShorter = resizeShorter
    }

    /// What torchvision's ImageNet weights were evaluated with: shorter side to `resizeShorter`
    /// (256 for the V1 weights, 232 for resnet50's IMAGENET1K_V2), bilinear, centre crop `crop`,
    /// RGB/255, ImageNet mean and std.
    public static func imageNet(resizeShorter: Int = 256, crop: Int = 224) -> Preprocessing {
        Preprocessing(height: crop, width: crop, channels: 3, rescale: 1.0 / 255, mean: ImagePipeline.imageNetMean,
                      std: ImagePipeline.imageNetStd, resizeFilter: ResizeFilter.bilinear.rawValue, resizeShorter: resizeShorter)
    }

    /// The deterministic pipeline (no augmentation): resize, rescale, normalize; training adds
    /// the affine augmentation, the padded random crop, random erasing, RandAugment and colour jitter.
    public func pipeline(augmentation: AffineAugmentation = .none, randomCrop: Int = 0,
                         randomErasing: RandomErasing = .none, randAugment: RandAugment = .none,
                         colorJitter: ColorJitter = .none) -> ImagePipeline {
        let filter = resizeFilter.flatMap(ResizeFilter.init(rawValue:)) ?? .nearest
        var p = ImagePipeline.keras(height: height, width: width, channels: channels, augmentation: augmentation, rescale: rescale,
                                    filter: filter)
        if let resizeShorter {
            p.steps = [.resizeShorterSide(resizeShorter, filter: filter), .centerCrop(height: height, width: width)]
        }
        p.mean = mean
        p.std = std
        p.randomCropPadding = randomCrop
        p.randomErasing = randomErasing
        p.randAugment = randAugment
        p.colorJitter = colorJitter
        return p
    }
}

/// `RUN_DIR/checkpoint.json`: everything beside the weights needed to resume exactly or to use
/// the model: its configuration, classes, preprocessing, position and history.
public struct CheckpointInfo: Codable, Sendable {
    public var format = "swiftresnet-checkpoint/1"
    public var settings: TrainingSettings
    public var modelConfig: ResNetConfig
    public var classNames: [String]
    public var preprocessing: Preprocessing
    /// Epochs completed; training resumes at this (0-based) epoch, batch 0.
    public var epoch: Int
    /// Optimizer steps taken so far.
    public var step: Int
    public var learningRate: Float
    public var history: [[String: Double]]
    public var bestMetric: Double?
    public var bestEpoch: Int?
    public var plateau: [String: Double]?
    /// Where the optimizer's state (momentum buffers, Adam moments) is, relative to the run directory.
    public var optimizerStateFile = RunDirectory.optimizerFile
    /// The committed weights, relative to the run directory (nil in runs saved before per-epoch
    /// names: `checkpoint.safetensors`).
    public var weightsFile: String?
    /// The committed best weights (nil in older runs: `best.safetensors` when there is a best epoch).
    public var bestFile: String?
    /// The committed exponential moving average of the weights (`--ema`; nil without it).
    public var emaFile: String?
    /// The loader's position: same seed, next epoch, first batch.
    public var loaderSeed: UInt64
    public var stoppedEarly = false
    /// The epoch count `--time-budget` decided after timing the first epoch (nil without a budget):
    /// `settings.epochs` holds it too, so a resumed run keeps the same schedule instead of deciding again.
    public var timeBudgetEpochs: Int?
    /// The processes that trained it (`mpirun -np N`; nil in runs saved before distributed
    /// training, which were single-process): a resume with another count reads a different data order.
    public var worldSize: Int?

    public var weightsFileName: String { weightsFile ?? RunDirectory.weightsFile }
    public var bestFileName: String? { bestFile ?? (bestEpoch != nil ? RunDirectory.bestFile : nil) }
}
