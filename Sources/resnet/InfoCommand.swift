import ArgumentParser
import Foundation
import ResNetEngine

/// `resnet info`: what the engine runs on, and which oneDNN kernels it picks for ResNet shapes.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show the oneDNN version, threads and the kernels chosen for ResNet-50's shapes.")

    @Option(help: "Batch size of the probe convolutions.") var batchSize = 2

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1 (got \(batchSize))") }
    }

    func run() throws {
        print("oneDNN \(OneDNN.version), \(OneDNN.threads) OpenMP thread(s), \(ProcessInfo.processInfo.activeProcessorCount) core(s)")
        let shapes: [(String, [Int], [Int], Int, Padding)] = [
            ("stem 7x7/2", [batchSize, 224, 224, 3], [64, 3, 7, 7], 2, .symmetric(3)),
            ("3x3 at 56", [batchSize, 56, 56, 64], [64, 64, 3, 3], 1, .symmetric(1)),
            ("1x1 at 56", [batchSize, 56, 56, 256], [64, 256, 1, 1], 1, .valid),
            ("3x3/2 at 28", [batchSize, 56, 56, 128], [128, 128, 3, 3], 2, .symmetric(1)),
        ]
        for (name, xs, ws, stride, padding) in shapes {
            let x = Tensor.randomNormal(xs, seed: 1)
            let w = Tensor.randomNormal(ws, std: 0.1, seed: 2)
            _ = GradMode.withoutGradient { conv2d(x, w, stride: stride, padding: padding, relu: true) }
            print(name.padding(toLength: 14, withPad: " ", startingAt: 0), OneDNN.implementations.last { $0.key.op == .convolution && $0.key.shapes.first == xs }?.implementation ?? "?")
        }
    }
}
