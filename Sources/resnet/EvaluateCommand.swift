import ArgumentParser
import Foundation
import ResNetTraining

/// `resnet evaluate`: loss, top-1, top-k, per-class accuracy and the confusion matrix of a checkpoint.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate", abstract: "Evaluate a checkpoint, or published weights (--model NAME --weights FILE), on a data split.")

    enum Format: String, ExpressibleByArgument { case text, json }

    @OptionGroup var source: ModelSourceOptions
    @Option(help: "Class-folder dataset (default: the data the run was trained on).") var data: String?
    @Option(help: "Built-in dataset (fashion-mnist, cifar10).") var dataset: String?
    @Option(help: "Where that built-in dataset lives, if not in its default place.") var datasetDir: String?
    @Option(help: "train, validation or test (default: test; with --weights and one class-folder root: every image).") var split: String?
    @Option(help: "k of the top-k accuracy (default: the run's).") var topK: Int?
    @Option(help: "Images per batch.") var batchSize = 128
    @Option(help: "text or json.") var format: Format = .text
    @Option(help: "Test-time augmentation: none, or flip (average the class probabilities of each image and its horizontal flip).") var tta: TestTimeAugmentation = .none

    func validate() throws {
        guard (1...TrainingSettings.maxBatchSize).contains(batchSize) else {
            throw ValidationError("--batch-size must be between 1 and \(TrainingSettings.maxBatchSize) (got \(batchSize))")
        }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1 (got \(topK))") }
        if let split, !["train", "validation", "val", "test"].contains(split) {
            throw ValidationError("--split must be train, validation or test (got '\(split)')")
        }
        if source.model != nil && data == nil && dataset == nil {
            throw ValidationError("--model needs --data DIR or --dataset NAME (there is no run to take the data from)")
        }
    }

    func run() throws {
        do {
            let predictor = try Predictor(source.source)
            var s = predictor.checkpoint?.settings ?? TrainingSettings()
            // A single class-folder set is split again with the seed saved in the checkpoint, so
            // test images are never training images.
            if data != nil || dataset != nil { s.data = data; s.dataset = dataset; s.datasetLocation = datasetDir }
            s.batchSize = batchSize
            s.model = predictor.model.config.name
            // Published weights never saw these images: one class-folder root is evaluated whole.
            let whole = predictor.checkpoint == nil && split == nil && data.map { !Self.hasTrainFolder($0) } == true
            if whole { s.splitRatios = [1, 0, 0] }
            // The model's preprocessing as saved (height, width, channels, normalisation).
            let prepared = try PreparedData(s, forEvaluation: true, preprocessing: predictor.preprocessing)
            if prepared.classNames != predictor.classNames {
                // Built-in ImageNet names against folders named by synset (n01440764 …): sorted
                // synsets are torchvision's class order, so position decides.
                guard predictor.checkpoint == nil, source.classes == nil, prepared.classNames.count == predictor.classNames.count else {
                    throw TrainingError.checkpoint("the data's \(prepared.classNames.count) classes \(prepared.classNames.prefix(10)) differ from the model's "
                        + "\(predictor.classNames.count) \(predictor.classNames.prefix(10))\(predictor.checkpoint == nil ? " (--classes FILE names the model's classes)" : "")")
                }
                if format == .text { print("the data's \(prepared.classNames.count) class folders are matched to the built-in ImageNet classes by position (sorted names)") }
            }
            let splitName = whole ? "all images" : (split ?? "test")
            let loader: DataLoader?
            switch whole ? "train" : (split ?? "test") {
            case "train": loader = prepared.train
            case "validation", "val": loader = prepared.validation
            case "test": loader = prepared.test
            case let other: throw ValidationError("--split must be train, validation or test (got '\(other)')")
            }
            guard let loader else { throw TrainingError.invalidOption("the data has no \(splitName) split") }
            let k = topK ?? s.topK
            let bar = format == .text ? ProgressBar(total: loader.batchesPerEpoch, title: "Evaluating \(splitName)") : nil
            if predictor.usesEMA && format == .text { print("using the moving average of the weights (\(predictor.weightsFile?.lastPathComponent ?? ""))); --raw-weights for the trained ones") }
            let m = try Evaluator.evaluate(predictor.model, loader: loader, classes: predictor.classNames.count, topK: k, progress: bar, tta: tta)
            if format == .json {
                print(m.json(classNames: predictor.classNames))
                return
            }
            if tta == .flip { print("test-time augmentation: probabilities averaged over each image and its horizontal flip") }
            print(String(format: "%@ on %@ (%d images): loss %.4f - acc %.4f - top%d %.4f",
                         predictor.model.config.name, splitName, m.count, m.loss ?? .nan, m.accuracy, m.topK, m.topKAccuracy))
            print("\nPer-class accuracy:\n" + m.perClassTable(classNames: predictor.classNames))
            print("\nConfusion matrix (rows: true class, columns: predicted):\n" + m.confusionTable(classNames: predictor.classNames))
        } catch let e as ValidationError {
            throw e
        } catch {
            throw CleanExit.failure("\(error)")
        }
    }
}

extension EvaluateCommand {
    /// Whether `root` is split into folders already (`root/train/<class>/…`).
    static func hasTrainFolder(_ root: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: URL(fileURLWithPath: root).appendingPathComponent("train").path, isDirectory: &isDir)
            && isDir.boolValue
    }
}

extension TestTimeAugmentation: ExpressibleByArgument {}
