import ResNetData
import ResNetModels

/// Everything a training run was asked for: saved in `checkpoint.json` so a run can be resumed,
/// evaluated or repeated exactly. Field names match the CLI options.
public struct TrainingSettings: Codable, Equatable, Sendable {
    public var model = "resnet20"
    /// A class-folder dataset (`root/<class>/…` or `root/{train,validation,test}/<class>/…`).
    public var data: String?
    /// A built-in dataset when `data` is nil: "fashion-mnist" (the default) or "cifar10".
    public var dataset: String?
    /// Where a built-in dataset lives, when not in its default place.
    public var datasetLocation: String?
    public var splitRatios: [Double] = [8, 1, 1]
    /// Square input size; nil keeps a built-in dataset's own size (28 for Fashion-MNIST) or 224.
    public var imageSize: Int?
    /// Input channels; nil: 1 for grayscale built-ins, 3 otherwise.
    public var channels: Int?
    public var classes: Int?
    public var epochs = 3
    public var batchSize = 128
    public var optimizer = "sgd"
    /// nil: 0.1 for SGD, 1e-3 for Adam and AdamW.
    public var learningRate: Float?
    public var momentum: Float = 0.9
    public var nesterov = true
    /// nil: 5e-4 for SGD, 0 for Adam, 0.01 for AdamW; applied to every parameter, as torch.optim does.
    public var weightDecay: Float?
    /// "cosine", "constant", "step:30:0.1", "multistep:30,60:0.1" or "plateau".
    public var schedule = "cosine"
    public var warmupEpochs = 0
    public var labelSmoothing: Float = 0
    public var seed: UInt64 = 0
    public var workers: Int?
    public var topK = 5
    // Keras ImageDataGenerator options (the seed used shift/shear/zoom 0.1 and horizontal flips).
    public var widthShiftRange = 0.0
    public var heightShiftRange = 0.0
    public var shearRange = 0.0
    public var zoomRange = 0.0
    public var rotationRange = 0.0
    public var horizontalFlip = false
    public var verticalFlip = false
    public var fillMode = "nearest"
    public var cval: Float = 0
    public var rescale: Float = 1.0 / 255
    /// How images are resized to the input size: "nearest" (Keras's default) or "bilinear".
    public var resizeFilter = "nearest"
    /// Per-channel normalization after rescaling (e.g. ImageNet's mean/std for torchvision weights).
    public var mean: [Float]?
    public var std: [Float]?
    // Callbacks.
    /// The validation metric that picks `best.safetensors` and drives early stopping and plateaus.
    public var monitor = "val_acc"
    public var earlyStoppingPatience: Int?
    public var plateauPatience = 5
    public var plateauFactor: Float = 0.1
    public var strict = false

    public init() {}

    public var resolvedLearningRate: Float { learningRate ?? (optimizer == "sgd" ? 0.1 : 1e-3) }
    public var resolvedWeightDecay: Float { weightDecay ?? (optimizer == "sgd" ? 5e-4 : optimizer == "adamw" ? 0.01 : 0) }
    /// Whether a larger monitored value is better (accuracies) or a smaller one (losses).
    public var monitorMaximizes: Bool { !monitor.hasSuffix("loss") }

    public var augmentation: AffineAugmentation {
        AffineAugmentation(rotationRange: rotationRange, widthShiftRange: widthShiftRange, heightShiftRange: heightShiftRange,
                           shearRange: shearRange, zoomRange: zoomRange, horizontalFlip: horizontalFlip,
                           verticalFlip: verticalFlip, fillMode: FillMode(rawValue: fillMode) ?? .nearest, cval: cval)
    }

    /// Rejects values that would fail later, naming the option.
    public func validate() throws {
        func bad(_ s: String) -> TrainingError { .invalidOption(s) }
        guard epochs >= 1 else { throw bad("--epochs must be at least 1 (got \(epochs))") }
        guard batchSize >= 1 else { throw bad("--batch-size must be at least 1 (got \(batchSize))") }
        guard ["sgd", "adam", "adamw"].contains(optimizer) else { throw bad("--optimizer must be sgd, adam or adamw (got '\(optimizer)')") }
        guard resolvedLearningRate > 0, resolvedLearningRate.isFinite else { throw bad("--lr must be positive (got \(resolvedLearningRate))") }
        guard resolvedWeightDecay >= 0 else { throw bad("--weight-decay must not be negative") }
        guard (0..<1).contains(labelSmoothing) else { throw bad("--label-smoothing must be in [0, 1) (got \(labelSmoothing))") }
        guard topK >= 1 else { throw bad("--top-k must be at least 1") }
        guard ResizeFilter(rawValue: resizeFilter) != nil else { throw bad("--resize must be nearest or bilinear (got '\(resizeFilter)')") }
        guard FillMode(rawValue: fillMode) != nil else {
            throw bad("--fill-mode must be one of \(FillMode.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(fillMode)')")
        }
        guard ["loss", "acc"].contains(monitor.replacingOccurrences(of: "val_", with: "")) || monitor.contains("top") else {
            throw bad("--monitor must be val_acc, val_loss, val_topK, acc, loss or topK (got '\(monitor)')")
        }
        if let imageSize, imageSize < 8 { throw bad("--image-size must be at least 8 (got \(imageSize))") }
        if let channels, ![1, 3].contains(channels) { throw bad("--channels must be 1 or 3 (got \(channels))") }
        if schedule != "plateau" { _ = try LRSchedule(parsing: schedule, totalEpochs: epochs) }
        _ = try ResNetRegistry.config(model)
    }
}

/// Why training could not start or had to stop.
public enum TrainingError: Error, CustomStringConvertible {
    case invalidOption(String)
    case checkpoint(String)
    case weights(String)
    case diverged(String)

    public var description: String {
        switch self {
        case .invalidOption(let s): return s
        case .checkpoint(let s): return "checkpoint: \(s)"
        case .weights(let s): return "weights: \(s)"
        case .diverged(let s): return s
        }
    }
}
