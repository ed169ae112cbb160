import ArgumentParser
import Foundation
import ResNetModels
import ResNetTraining

/// `resnet benchmark`: the seed's forward-time benchmark, plus the backward pass it left "to the reader".
struct BenchmarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "benchmark",
        abstract: "Time forward, forward+backward or full training steps per batch, as the seed's benchmark.")

    enum Format: String, ExpressibleByArgument { case text, json }

    @Option(help: "Registered model name (the seed benchmarks resnet_v2_152).") var model = "resnet_v2_152"
    @Option(help: "Images per batch.") var batchSize = 32
    @Option(help: "Square input size.") var imageSize = 224
    @Option(help: "forward (inference), backward (forward+backward) or train (with the optimizer update).") var mode: Benchmark.Mode = .forward
    @Option(help: "Burn-in steps, not timed.") var warmup = 10
    @Option(help: "Timed steps.") var steps = 100
    @Option(help: "oneDNN threads (default: all cores).") var threads: Int?
    @Option(help: "text (the seed's lines) or json.") var format: Format = .text
    @Option(help: "Time one residual unit instead of the network, e.g. layer1.1 (ResNet-50: 256 channels at 56x56).") var unit: String?
    @Flag(help: "Split the step time per op kind (convolution, batch norm, elementwise, pooling, reorders, optimizer), list the slowest primitives and compare with this machine's sgemm rate.")
    var detail = false

    func run() throws {
        guard steps > 0, warmup >= 0 else { throw ValidationError("--steps must be positive and --warmup not negative") }
        // The model, image size, batch and threads are checked before anything is allocated or started.
        do {
            try ResNetRegistry.config(model).validateInput(height: imageSize, width: imageSize, batchSize: batchSize)
        } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
        if let threads {
            do { try OneDNN.validateThreads(threads) } catch let error as ThreadCountError { throw ValidationError("--" + error.description) }
            OneDNN.setThreads(threads)
        }
        let stamp = DateFormatter()
        stamp.dateFormat = "yyyy-MM-dd HH:mm:ss.SSSSSS"
        let bench = Benchmark(model: model, mode: mode, batchSize: batchSize, imageSize: imageSize, warmup: warmup, steps: steps, unit: unit, detail: detail)
        let result = try bench.run { i, d in
            if format == .text && i % 10 == 0 { print(String(format: "%@: step %d, duration = %.3f", stamp.string(from: Date()), i, d)) }
        }
        if format == .json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        print(String(format: "%@: %@ across %d steps, %.3f +/- %.3f sec / batch", stamp.string(from: Date()), mode.title,
                     steps, result.mean, result.standardDeviation))
        print(String(format: "%@%@, batch %d, %dx%d, %d thread(s): median %.3f s/batch, %.1f images/s, %.1f GFLOP/s",
                     model, unit.map { " " + $0 } ?? "", batchSize, imageSize, imageSize, result.threads, result.median, result.imagesPerSecond, result.gflopsPerSecond))
        print(String(format: "peak memory: %.2f GB in tensors, %.2f GB resident, %.0f MB mapped fresh per step",
                     Double(result.peakTensorBytes) / 1e9, Double(result.peakResidentBytes) / 1e9,
                     Double(result.freshlyMappedBytesPerStep) / 1e6))
        if detail { printDetail(result) }
    }

    private func printDetail(_ r: Benchmark.Result) {
        guard let kinds = r.breakdown else { return }
        print("\nTime per step by op kind (mean \(String(format: "%.3f", r.mean)) s):")
        print("  " + "op kind".padding(toLength: 16, withPad: " ", startingAt: 0) + "pass".padding(toLength: 10, withPad: " ", startingAt: 0)
              + "calls   s/step   share")
        for e in kinds where e.seconds >= 0.0005 || e.kind == .other {
            let name = e.kind.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)
            let pass = (e.pass?.rawValue ?? "").padding(toLength: 10, withPad: " ", startingAt: 0)
            let calls = (e.calls > 0 ? String(e.calls) : "").leftPadded(5)
            let share = 100 * e.seconds / max(r.mean, 1e-12)
            print("  " + name + pass + calls + String(format: " %8.3f %6.1f%%", e.seconds, share))
        }
        if let slowest = r.slowest, !slowest.isEmpty {
            print("\nSlowest primitives (s/step, calls/step, op|shapes):")
            for e in slowest { print(String(format: "  %7.3f %4d  ", e.seconds, e.calls) + (e.primitive?.description ?? "")) }
        }
        if let sgemm = r.sgemmGFLOPs {
            print(String(format: "\nAchieved %.1f GFLOP/s = %.0f%% of this machine's sgemm rate (%.1f GFLOP/s, 2048^3, measured after the run).",
                         r.gflopsPerSecond, 100 * r.gflopsPerSecond / sgemm, sgemm))
        }
    }
}

extension Benchmark.Mode: ExpressibleByArgument {}

