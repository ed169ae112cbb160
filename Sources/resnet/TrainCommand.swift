import ArgumentParser
import Foundation
import ResNetData
import ResNetTraining

/// `resnet train`: the seed's main job. With no options, resnet20 on the built-in Fashion-MNIST.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a ResNet on class folders or a built-in dataset, validating, checkpointing and testing.",
        discussion: """
        Writes RUN_DIR/checkpoint.safetensors (torchvision key names), checkpoint.json, optimizer.safetensors,
        best.safetensors, history.csv and history.svg. `--resume RUN_DIR --epochs N` continues exactly where it stopped.
        """)

    @Option(help: "Class-folder dataset: DIR/<class>/<image> (split 8:1:1) or DIR/{train,validation,test}/<class>/<image>.") var data: String?
    @Option(help: "Built-in dataset when --data is not given: fashion-mnist (default) or cifar10.") var dataset: String?
    @Option(help: "Folder of a built-in dataset, if not in its default place.") var datasetLocation: String?
    @Option(help: "Model name (default resnet20, for small images).") var model: String?
    @Option(help: "Number of classes (checked against the data).") var classes: Int?
    @Option(help: "Square input size (default: the dataset's own, else 32 for CIFAR nets and 224 for ImageNet nets).") var imageSize: Int?
    @Option(help: "Input channels, 1 or 3 (default: 1 for Fashion-MNIST, 3 otherwise).") var channels: Int?
    @Option(help: "Total epochs.") var epochs: Int?
    @Option(help: "Images per batch.") var batchSize: Int?
    @Option(help: "sgd, adam or adamw.") var optimizer: String?
    @Option(help: "Base learning rate (default 0.1 for sgd, 1e-3 for adam/adamw).") var lr: Float?
    @Option(help: "SGD momentum.") var momentum: Float?
    @Option(help: "Weight decay (default 5e-4 sgd, 0 adam, 0.01 adamw).") var weightDecay: Float?
    @Option(help: "cosine, constant, step:EVERY[:GAMMA], multistep:M1,M2[:GAMMA] or plateau.") var schedule: String?
    @Option(help: "Linear warmup epochs.") var warmupEpochs: Int?
    @Option(help: "Label smoothing epsilon.") var labelSmoothing: Float?
    @Option(help: "Keras width_shift_range.") var widthShiftRange: Double?
    @Option(help: "Keras height_shift_range.") var heightShiftRange: Double?
    @Option(help: "Keras shear_range, degrees.") var shearRange: Double?
    @Option(help: "Keras zoom_range.") var zoomRange: Double?
    @Option(help: "Keras rotation_range, degrees.") var rotationRange: Double?
    @Flag(help: "Random horizontal flips.") var horizontalFlip = false
    @Flag(help: "Random vertical flips.") var verticalFlip = false
    @Option(help: "nearest, constant, reflect or wrap.") var fillMode: String?
    @Option(help: "Fill value for --fill-mode constant.") var cval: Float?
    @Option(help: "Multiply pixels by this (default 1/255).") var rescale: Float?
    @Option(help: "Random seed: data order, augmentation, initialisation.") var seed: UInt64?
    @Option(help: "Data loader threads (default: all cores).") var workers: Int?
    @Option(help: "k of the top-k accuracy.") var topK: Int?
    @Option(help: "Validation metric for best checkpoint, early stopping and plateau: val_acc, val_loss, ...") var monitor: String?
    @Option(help: "Stop after this many epochs without improvement of --monitor.") var earlyStopping: Int?
    @Option(help: "Run directory (default runs/MODEL-DATASET-TIME).") var out: String?
    @Option(help: "Continue the run in this directory.") var resume: String?
    @Option(help: "Start from weights: a run directory or a .safetensors file (torchvision/timm names).") var weights: String?
    @Flag(help: "Stop on an unreadable image instead of skipping it.") var strict = false
    @Option(help: "oneDNN threads (default: all cores).") var threads: Int?

    func run() throws {
        if let threads { OneDNN.setThreads(threads) }
        do {
            let trainer: Trainer
            if let resume {
                trainer = try Trainer.resume(runDirectory: resume, epochs: epochs)
            } else {
                let settings = makeSettings()
                if settings.model == "resnet20" && model == nil { print("model: resnet20 (the default for small images; --model to choose)") }
                let dir = out ?? defaultRunDirectory(settings)
                if FileManager.default.fileExists(atPath: RunDirectory(dir).info.path) {
                    throw ValidationError("\(dir) already holds a checkpoint: use --resume \(dir) to continue it, or --out for a new run")
                }
                trainer = try Trainer.start(settings, runDirectory: dir, weights: weights)
            }
            try trainer.fit()
        } catch let e as ValidationError {
            throw e
        } catch {
            throw CleanExit.failure("\(error)")
        }
    }

    private func makeSettings() -> TrainingSettings {
        var s = TrainingSettings()
        s.data = data; s.dataset = dataset; s.datasetLocation = datasetLocation
        if let model { s.model = model }
        s.classes = classes; s.imageSize = imageSize; s.channels = channels
        if let epochs { s.epochs = epochs }
        if let batchSize { s.batchSize = batchSize }
        if let optimizer { s.optimizer = optimizer.lowercased() }
        s.learningRate = lr; s.weightDecay = weightDecay
        if let momentum { s.momentum = momentum }
        if let schedule { s.schedule = schedule }
        if let warmupEpochs { s.warmupEpochs = warmupEpochs }
        if let labelSmoothing { s.labelSmoothing = labelSmoothing }
        if let widthShiftRange { s.widthShiftRange = widthShiftRange }
        if let heightShiftRange { s.heightShiftRange = heightShiftRange }
        if let shearRange { s.shearRange = shearRange }
        if let zoomRange { s.zoomRange = zoomRange }
        if let rotationRange { s.rotationRange = rotationRange }
        s.horizontalFlip = horizontalFlip; s.verticalFlip = verticalFlip
        if let fillMode { s.fillMode = fillMode }
        if let cval { s.cval = cval }
        if let rescale { s.rescale = rescale }
        if let seed { s.seed = seed }
        s.workers = workers
        if let topK { s.topK = topK }
        if let monitor { s.monitor = monitor }
        s.earlyStoppingPatience = earlyStopping
        s.strict = strict
        return s
    }

    private func defaultRunDirectory(_ s: TrainingSettings) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        let source = s.data.map { URL(fileURLWithPath: $0).lastPathComponent } ?? (s.dataset ?? "fashion-mnist")
        return "runs/\(s.model)-\(source)-\(f.string(from: Date()))"
    }
}

/// Exits non-zero with a one-line message (no usage text): errors in data or files, not in flags.
enum CleanExit {
    static func failure(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode.failure
    }
}
