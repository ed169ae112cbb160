import ArgumentParser
import Foundation
import ResNetTraining

/// `resnet predict`: the top classes of each image, preprocessed as the checkpoint was trained.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "predict", abstract: "Classify image files with a checkpoint.")

    enum Format: String, ExpressibleByArgument { case text, json }

    @Option(help: "A run directory or a weights file beside its checkpoint.json.") var checkpoint: String
    @Option(help: "How many classes to show per image.") var topK = 5
    @Option(help: "text or json.") var format: Format = .text
    @Argument(help: "Image files (JPEG, PNG, PPM/PGM).") var images: [String]

    func run() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image file") }
        do {
            let predictor = try Predictor(checkpoint: checkpoint)
            let k = min(max(topK, 1), predictor.classNames.count)
            let results = try predictor.topK(files: images, k: k)
            if format == .json {
                let rows: [[String: Any]] = zip(images, results).map { file, top in
                    ["image": file, "predictions": top.map { ["class": $0.name, "probability": Double($0.probability)] }]
                }
                let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            for (file, top) in zip(images, results) {
                print(file)
                for (i, p) in top.enumerated() {
                    print(String(format: "  %d. %@ %6.2f%%", i + 1, p.name.padding(toLength: 24, withPad: " ", startingAt: 0), p.probability * 100))
                }
            }
        } catch let e as ValidationError {
            throw e
        } catch {
            throw CleanExit.failure("\(error)")
        }
    }
}
