import ArgumentParser
import Foundation
import ResNetTraining

/// `resnet evaluate`: loss, top-1, top-k, per-class accuracy and the confusion matrix of a checkpoint.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate", abstract: "Evaluate a checkpoint on a data split (default: test).")

    enum Format: String, ExpressibleByArgument { case text, json }

    @Option(help: "A run directory or a weights file beside its checkpoint.json.") var checkpoint: String
    @Flag(help: "For a run trained with --ema: use the trained weights, not their moving average (the default for a run directory).") var rawWeights = false
    @Option(help: "Class-folder dataset (default: the data the run was trained on).") var data: String?
    @Option(help: "Built-in dataset (fashion-mnist, cifar10).") var dataset: String?
    @Option(help: "Where that built-in dataset lives, if not in its default place.") var datasetDir: String?
    @Option(help: "train, validation or test.") var split = "test"
    @Option(help: "k of the top-k accuracy (default: the run's).") var topK: Int?
    @Option(help: "Images per batch.") var batchSize = 128
    @Option(help: "text or json.") var format: Format = .text
    @Option(help: "Test-time augmentation: none, or flip (average the class probabilities of each image and its horizontal flip).") var tta: TestTimeAugmentation = .none

    func validate() throws {
        guard (1...TrainingSettings.maxBatchSize).contains(batchSize) else {
            throw ValidationError("--batch-size must be between 1 and \(TrainingSettings.maxBatchSize) (got \(batchSize))")
        }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1 (got \(topK))") }
        guard ["train", "validation", "val", "test"].contains(split) else {
            throw ValidationError("--split must be train, validation or test (got '\(split)')")
        }
    }

    func run() throws {
        do {
            let predictor = try Predictor(checkpoint: checkpoint, rawWeights: rawWeights)
            var s = predictor.info.settings
            // A single class-folder set is split again with the seed saved in the checkpoint, so
            // test images are never training images.
            if data != nil || dataset != nil { s.data = data; s.dataset = dataset; s.datasetLocation = datasetDir }
            s.batchSize = batchSize
            // The checkpoint's preprocessing as saved (height, width, channels, normalisation).
            let prepared = try PreparedData(s, forEvaluation: true, preprocessing: predictor.info.preprocessing)
            guard prepared.classNames == predictor.classNames else {
                throw TrainingError.checkpoint("the data's classes \(prepared.classNames) differ from the checkpoint's \(predictor.classNames)")
            }
            let loader: DataLoader?
            switch split {
            case "train": loader = prepared.train
            case "validation", "val": loader = prepared.validation
            case "test": loader = prepared.test
            default: throw ValidationError("--split must be train, validation or test (got '\(split)')")
            }
            guard let loader else { throw TrainingError.invalidOption("the data has no \(split) split") }
            let k = topK ?? s.topK
            let bar = format == .text ? ProgressBar(total: loader.batchesPerEpoch, title: "Evaluating \(split)") : nil
            if predictor.usesEMA && format == .text { print("using the moving average of the weights (\(predictor.weightsFile.lastPathComponent)); --raw-weights for the trained ones") }
            let m = try Evaluator.evaluate(predictor.model, loader: loader, classes: predictor.classNames.count, topK: k, progress: bar, tta: tta)
            if format == .json {
                print(m.json(classNames: predictor.classNames))
                return
            }
            if tta == .flip { print("test-time augmentation: probabilities averaged over each image and its horizontal flip") }
            print(String(format: "%@ on %@ (%d images): loss %.4f - acc %.4f - top%d %.4f",
                         predictor.info.modelConfig.name, split, m.count, m.loss ?? .nan, m.accuracy, m.topK, m.topKAccuracy))
            print("\nPer-class accuracy:\n" + m.perClassTable(classNames: predictor.classNames))
            print("\nConfusion matrix (rows: true class, columns: predicted):\n" + m.confusionTable(classNames: predictor.classNames))
        } catch let e as ValidationError {
            throw e
        } catch {
            throw CleanExit.failure("\(error)")
        }
    }
}

extension TestTimeAugmentation: ExpressibleByArgument {}
