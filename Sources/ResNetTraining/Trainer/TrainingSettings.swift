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
    /// "cosine", "constant", "linear", "onecycle", "step:30:0.1", "multistep:30,60:0.1" or "plateau".
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
    /// `--random-crop PAD`: CIFAR's padded random crop (torchvision `RandomCrop(size, padding: PAD)`,
    /// zero fill); nil or 0 is off. Optional so that checkpoints saved before it still decode.
    public var randomCrop: Int?
    /// `--random-erasing P`: Random Erasing (Zhong et al. 2017) with probability P; nil or 0 is off.
    /// Optional so that checkpoints saved before it still decode.
    public var randomErasing: Double?
    /// `--randaugment N,M`: RandAugment (Cubuk et al. 2020) as [N, M], torchvision's op set; nil is off.
    /// Optional so that checkpoints saved before it still decode.
    public var randAugment: [Int]?
    /// `--color-jitter B[,C[,S[,H]]]`: torchvision `ColorJitter` amounts (missing ones 0); nil is off.
    /// Optional so that checkpoints saved before it still decode.
    public var colorJitter: [Double]?
    /// `--mixup ALPHA`: mixup (Zhang et al. 2018) with lambda ~ Beta(ALPHA, ALPHA); nil or 0 is off.
    /// Optional so that checkpoints saved before it still decode.
    public var mixup: Double?
    /// `--cutmix ALPHA`: CutMix (Yun et al. 2019) with lambda ~ Beta(ALPHA, ALPHA); nil or 0 is off.
    /// With `mixup` on too, each batch is one or the other with probability 0.5 (timm).
    public var cutmix: Double?
    /// `--ema DECAY`: keep an exponential moving average of the weights (timm ModelEmaV2), updated
    /// after every optimizer step, evaluated and checkpointed; nil or 0 is off. Optional so that
    /// checkpoints saved before it still decode.
    public var ema: Double?
    /// `--ema-warmup`: the average's decay ramps as min(DECAY, (1+t)/(10+t)) over optimizer steps t
    /// (TensorFlow's `ExponentialMovingAverage` with `num_updates`). Optional so that checkpoints
    /// saved before it still decode.
    public var emaWarmup: Bool?
    /// `--accumulate K`: micro-batches per optimizer step (Goyal et al. 2017); nil or 1 is off.
    /// Optional so that checkpoints saved before it still decode.
    public var accumulate: Int?
    /// `--clip-grad-norm MAX`: clip the global L2 norm of the gradients to MAX before each step
    /// (torch.nn.utils.clip_grad_norm_); nil is off.
    public var clipGradNorm: Double?
    /// `--freeze PARTS`: parts that do not learn (see `LayerFreezing`); nil is off. Optional so
    /// that checkpoints saved before it still decode.
    public var freeze: [String]?
    /// `--head-lr LR`: the classifier's (`fc`) base learning rate; the rest uses `learningRate`, and the
    /// schedule scales both by the same factor. nil: one rate for all. Optional so that older checkpoints decode.
    public var headLR: Float?
    /// `--time-budget MINUTES`: decide the epoch count from the first epoch's wall time (see
    /// `TimeBudget`); `epochs` then holds the decision. nil is off. Optional so that older checkpoints decode.
    public var timeBudget: Double?
    /// `--recipe NAME`: the preset the settings started from (see `Recipes`), for the record; nil: none.
    public var recipe: String?
    /// `--sync-bn`: in data-parallel training, batch norm's batch statistics over the global batch
    /// (all ranks) instead of each rank's own. Optional so that older checkpoints decode.
    public var syncBN: Bool?
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

    /// The pipeline the loader runs for the training split (`training`) or any other split: only
    /// training augments.
    public func pipeline(_ preprocessing: Preprocessing, training: Bool) -> ImagePipeline {
        guard training else { return preprocessing.pipeline() }
        return preprocessing.pipeline(augmentation: augmentation, randomCrop: randomCrop ?? 0,
                                      randomErasing: RandomErasing(probability: randomErasing ?? 0),
                                      randAugment: randAugmentation, colorJitter: ColorJitter(values: colorJitter ?? []))
    }

    /// `--randaugment` as the pipeline runs it (a malformed saved value is rejected by `validate`).
    public var randAugmentation: RandAugment {
        guard let randAugment, randAugment.count == 2 else { return .none }
        return RandAugment(numOps: randAugment[0], magnitude: randAugment[1])
    }

    /// The EMA decay when `--ema` is on.
    public var emaDecay: Float? { ema.flatMap { $0 > 0 ? Float($0) : nil } }

    /// mixup and CutMix on whole training batches (after the per-image pipeline).
    public var batchMixing: BatchMixing { BatchMixing(mixupAlpha: mixup ?? 0, cutmixAlpha: cutmix ?? 0) }

    /// Upper bounds on what a run may ask for: far above any real use, low enough that a typo
    /// (an extra zero, a pasted number) is an error before memory is allocated.
    public static let maxEpochs = 100_000
    public static let maxBatchSize = ResNetConfig.maxBatchSize
    public static let maxClasses = ResNetConfig.maxClasses
    public static let maxWorkers = 256
    /// The longest `--time-budget`: a year, in minutes.
    public static let maxTimeBudgetMinutes = 525_600.0
    /// The most micro-batches one optimizer step may accumulate.
    public static let maxAccumulate = 4096

    /// Rejects values that would fail later or silently give a wrong result, naming the option
    /// and the limit. Called for the CLI's options and for the settings of a checkpoint.json.
    public func validate() throws {
        func bad(_ s: String) -> TrainingError { .invalidOption(s) }
        func finite(_ value: Double, _ option: String, in range: ClosedRange<Double>) throws {
            guard value.isFinite, range.contains(value) else { throw bad("\(option) must be a number in [\(range.lowerBound), \(range.upperBound)] (got \(value))") }
        }
        guard (1...Self.maxEpochs).contains(epochs) else { throw bad("--epochs must be between 1 and \(Self.maxEpochs) (got \(epochs))") }
        guard (1...Self.maxBatchSize).contains(batchSize) else { throw bad("--batch-size must be between 1 and \(Self.maxBatchSize) (got \(batchSize))") }
        guard ["sgd", "adam", "adamw"].contains(optimizer) else { throw bad("--optimizer must be sgd, adam or adamw (got '\(optimizer)')") }
        guard resolvedLearningRate > 0, resolvedLearningRate.isFinite else { throw bad("--lr must be a positive, finite number (got \(resolvedLearningRate))") }
        if let headLR, !(headLR > 0 && headLR.isFinite) { throw bad("--head-lr must be a positive, finite number (got \(headLR))") }
        try finite(Double(momentum), "--momentum", in: 0...0.999_999)
        try finite(Double(resolvedWeightDecay), "--weight-decay", in: 0...1)
        guard (0...epochs).contains(warmupEpochs) else { throw bad("--warmup-epochs must be between 0 and --epochs (\(epochs)) (got \(warmupEpochs))") }
        guard labelSmoothing.isFinite, (0..<1).contains(labelSmoothing) else { throw bad("--label-smoothing must be in [0, 1) (got \(labelSmoothing))") }
        guard (1...Self.maxClasses).contains(topK) else { throw bad("--top-k must be between 1 and \(Self.maxClasses) (got \(topK))") }
        if let classes, !(1...Self.maxClasses).contains(classes) { throw bad("--classes must be between 1 and \(Self.maxClasses) (got \(classes))") }
        if let workers, !(1...Self.maxWorkers).contains(workers) { throw bad("--workers must be between 1 and \(Self.maxWorkers) (got \(workers))") }
        if let data, data.isEmpty { throw bad("--data must not be empty") }
        if let datasetLocation, datasetLocation.isEmpty { throw bad("--dataset-dir must not be empty") }
        guard ResizeFilter(rawValue: resizeFilter) != nil else { throw bad("--resize must be nearest or bilinear (got '\(resizeFilter)')") }
        guard FillMode(rawValue: fillMode) != nil else {
            throw bad("--fill-mode must be one of \(FillMode.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(fillMode)')")
        }
        if let imageSize, !(8...ResNetConfig.maxInputSize).contains(imageSize) {
            throw bad("--image-size must be between 8 and \(ResNetConfig.maxInputSize) (got \(imageSize))")
        }
        if let channels, ![1, 3].contains(channels) { throw bad("--channels must be 1 or 3 (got \(channels))") }
        if let ema, !(ema.isFinite && (0..<1).contains(ema)) {
            throw bad("--ema must be a decay in [0, 1) such as 0.999 (0 is off) (got \(ema))")
        }
        if let timeBudget, !(timeBudget.isFinite && timeBudget > 0 && timeBudget <= Self.maxTimeBudgetMinutes) {
            throw bad("--time-budget must be a number of minutes in (0, \(Int(Self.maxTimeBudgetMinutes))] (got \(timeBudget))")
        }
        if emaWarmup == true && emaDecay == nil {
            throw bad("--ema-warmup ramps the moving average's decay: it needs --ema DECAY (e.g. --ema 0.999)")
        }
        if let accumulate, !(1...Self.maxAccumulate).contains(accumulate) {
            throw bad("--accumulate must be between 1 and \(Self.maxAccumulate) micro-batches per step (got \(accumulate))")
        }
        if let clipGradNorm, !(clipGradNorm.isFinite && clipGradNorm > 0 && clipGradNorm <= 1e6) {
            throw bad("--clip-grad-norm must be a finite norm in (0, 1e6] (got \(clipGradNorm))")
        }
        if let randAugment, randAugment.count != 2 { throw bad("--randaugment takes two numbers N,M (got \(randAugment))") }
        if let colorJitter, !(1...4).contains(colorJitter.count) {
            throw bad("--color-jitter takes one to four numbers B[,C[,S[,H]]] (got \(colorJitter))")
        }
        do {
            try StratifiedSplit.validateRatios(splitRatios, source: "--split")
            try batchMixing.validate()
            // The augmentation and preprocessing as the loader will run them: a NaN would flow into
            // every pixel and keep the loss finite, so the divergence guard would never fire.
            // Without --image-size the side is the data's, unknown here: the largest one bounds
            // --random-crop now, and the loader checks it again against the data's own.
            let side = imageSize ?? ImagePipeline.maxSide
            try pipeline(Preprocessing(height: side, width: side, channels: channels ?? mean?.count ?? 3, rescale: rescale, mean: mean, std: std,
                                       resizeFilter: resizeFilter), training: true).validate()
        } catch let error as DataError {
            guard case .invalidArgument(let message) = error else { throw error }
            throw bad(message)
        }
        guard ["loss", "acc"].contains(monitor.replacingOccurrences(of: "val_", with: "")) || monitor.contains("top") else {
            throw bad("--monitor must be val_acc, val_loss, val_topK, acc, loss or topK (got '\(monitor)')")
        }
        if let earlyStoppingPatience, !(0...Self.maxEpochs).contains(earlyStoppingPatience) {
            throw bad("--early-stopping must be between 0 and \(Self.maxEpochs) epochs (got \(earlyStoppingPatience))")
        }
        guard (0...Self.maxEpochs).contains(plateauPatience) else { throw bad("plateau patience must be between 0 and \(Self.maxEpochs) (got \(plateauPatience))") }
        guard plateauFactor.isFinite, plateauFactor > 0, plateauFactor < 1 else { throw bad("plateau factor must be in (0, 1) (got \(plateauFactor))") }
        if schedule != "plateau" { _ = try LRSchedule(parsing: schedule, totalEpochs: epochs) }
        let config = try ResNetRegistry.config(model)
        if let imageSize { try config.validateInput(height: imageSize, width: imageSize, batchSize: batchSize) }
        if let freeze { try LayerFreezing.validate(freeze, config: config) }
    }
}

/// Why training could not start or had to stop.
public enum TrainingError: Error, CustomStringConvertible {
    case invalidOption(String)
    case checkpoint(String)
    case weights(String)
    case diverged(String)
    /// Stopped by SIGINT or SIGTERM; the message says what is committed and how to resume.
    case interrupted(String)

    public var description: String {
        switch self {
        case .invalidOption(let s): return s
        case .checkpoint(let s): return "checkpoint: \(s)"
        case .weights(let s): return "weights: \(s)"
        case .diverged(let s): return s
        case .interrupted(let s): return s
        }
    }
}
