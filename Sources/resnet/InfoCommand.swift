import ArgumentParser
import Foundation
import ResNetEngine
import ResNetTraining

/// `resnet info`: what the engine runs on (oneDNN, threads, the ISA its kernels use, the activation
/// layout), and the kernel of every ResNet-50 convolution in every pass, from a real run.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show oneDNN's version, threads and ISA, the activation layout, and the kernel of every ResNet-50 convolution, forward and backward.")

    /// Batch sizes whose ResNet-50 training step at 224x224 fits in a few GB.
    static let batchSizes = 1...64

    @Option(help: "Batch size of the probe run (Winograd takes a 3x3 layer only with enough 2x2 tiles: the kernels can depend on it), \(batchSizes.lowerBound)-\(batchSizes.upperBound).")
    var batchSize = 2

    func validate() throws {
        guard Self.batchSizes.contains(batchSize) else {
            throw ValidationError("--batch-size must be between \(Self.batchSizes.lowerBound) and \(Self.batchSizes.upperBound) (got \(batchSize))")
        }
    }

    func run() throws {
        print("oneDNN \(OneDNN.version), \(OneDNN.threads) OpenMP thread(s), \(ProcessInfo.processInfo.activeProcessorCount) core(s)")
        let survey = try KernelSurvey.run(model: "resnet50", batchSize: batchSize)
        print("ISA: \(survey.isa) (as oneDNN dispatches; ONEDNN_MAX_CPU_ISA caps it)")
        print("Activations between layers: \(survey.activationLayout) where the channels fill whole blocks "
              + "(SWIFTRESNET_LAYOUT: blocked = oneDNN's choice for this ISA, nchw8c, nchw16c, nhwc)")
        print("\nResNet-50 convolutions at batch \(batchSize), 224x224: input (NHWC) * weights (OIHW), window, layout")
        let passes = KernelSurvey.Pass.allCases
        for row in survey.rows {
            let g = row.geometry
            print("  \(row.input) * \(row.weights) k\(g.kh)x\(g.kw)/\(g.strideH) pad \(g.padTop),\(g.padBottom) \(row.layout)")
            for pass in passes {
                let kernels = row.kernels[pass].map { $0.joined(separator: ", ") } ?? "not run"
                print("      " + pass.rawValue.padding(toLength: 20, withPad: " ", startingAt: 0) + kernels)
            }
        }
    }
}
