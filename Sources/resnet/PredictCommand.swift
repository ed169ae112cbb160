import ArgumentParser
import Foundation
import ResNetTraining

/// `resnet predict`: the top classes of each image, preprocessed as the checkpoint was trained.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict", abstract: "Classify image files with a checkpoint or published weights (--model NAME --weights FILE).")

    enum Format: String, ExpressibleByArgument { case text, json }

    @OptionGroup var source: ModelSourceOptions
    @Option(help: "How many classes to show per image.") var topK = 5
    @Option(help: "text or json.") var format: Format = .text
    @Flag(help: "With --format json: also each image's logits (all classes, before softmax), for cross-checks with other runtimes.") var logits = false
    @Argument(help: "Image files (JPEG, PNG, PPM/PGM).") var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image file") }
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1 (got \(topK))") }
        if logits && format != .json { throw ValidationError("--logits goes with --format json") }
    }

    /// Each image is classified on its own: one unreadable file is reported on stderr and the
    /// others still get their answer; the exit status says whether any failed.
    func run() throws {
        let predictor: Predictor
        do { predictor = try Predictor(source.source) } catch { throw CleanExit.failure("\(error)") }
        let k = min(topK, predictor.classNames.count)
        var rows: [[String: Any]] = []
        var failures = 0
        for file in images {
            do {
                let scores = predictor.logits([try predictor.input(file: file)])[0]
                let top = predictor.topK(Predictor.softmax(scores), k: k)
                if format == .json {
                    var row: [String: Any] = ["image": file, "predictions": top.map { ["class": $0.name, "probability": Double($0.probability)] }]
                    if logits { row["logits"] = scores.map(Double.init) }
                    rows.append(row)
                    continue
                }
                print(file)
                for (i, p) in top.enumerated() {
                    print(String(format: "  %d. %@ %6.2f%%", i + 1, p.name.padding(toLength: 24, withPad: " ", startingAt: 0), p.probability * 100))
                }
            } catch {
                failures += 1
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                if format == .json { rows.append(["image": file, "error": "\(error)"]) }
            }
        }
        if format == .json {
            let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
        if failures > 0 { throw CleanExit.failure("\(failures) of \(images.count) image(s) could not be classified") }
    }
}
