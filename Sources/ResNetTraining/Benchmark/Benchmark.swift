import Foundation
import ResNetModels

/// The seed's timing loop (`time_tensorflow_run`): burn-in steps, then timed steps, each a
/// forward pass (inference), forward + backward, or a full training step with the optimizer.
public struct Benchmark {
    public enum Mode: String, CaseIterable, Codable, Sendable {
        case forward, backward, train

        /// FLOPs of one step relative to a forward pass: backward costs about twice the forward
        /// (gradients for the data and for the weights).
        var flopFactor: Double { self == .forward ? 1 : 3 }
        public var title: String { self == .forward ? "Forward" : self == .backward ? "Forward-backward" : "Train step" }
    }

    public struct Result: Codable, Sendable {
        public var model: String
        public var mode: Mode
        public var batchSize: Int
        public var imageSize: Int
        public var threads: Int
        public var steps: Int
        public var durations: [Double]
        public var mean: Double
        public var standardDeviation: Double
        public var median: Double
        public var imagesPerSecond: Double
        public var gflopsPerSecond: Double
        public var forwardGFLOPsPerImage: Double
        /// Peak bytes held in engine tensors during the timed steps (the memory plan).
        public var peakTensorBytes: Int
        /// The process's peak resident memory (getrusage), everything included.
        public var peakResidentBytes: Int
        /// Memory mapped fresh per timed step (page faults the buffer pool could not avoid): 0 in a
        /// steady state.
        public var freshlyMappedBytesPerStep: Int
        /// With `detail`: seconds per step by op kind and pass, the untimed rest as kind "other".
        public var breakdown: [Profiler.Entry]?
        /// With `detail`: the most expensive primitives (op and shapes), seconds per step.
        public var slowest: [Profiler.Entry]?
        /// With `detail`: this machine's sgemm rate measured after the run, the ceiling to compare with.
        public var sgemmGFLOPs: Double?
    }

    public var model: String
    public var mode: Mode
    public var batchSize: Int
    public var imageSize: Int
    public var warmup: Int
    public var steps: Int
    public var classes: Int?
    /// Times one residual unit of the model (e.g. "layer1.1", ResNet-50's 256-channel bottleneck at
    /// 56x56) instead of the whole network.
    public var unit: String?
    /// Times every op during the timed steps (`--detail`) and measures the sgemm ceiling afterwards.
    public var detail: Bool

    public init(model: String, mode: Mode, batchSize: Int = 32, imageSize: Int = 224, warmup: Int = 10, steps: Int = 100,
                classes: Int? = nil, unit: String? = nil, detail: Bool = false) {
        self.model = model; self.mode = mode; self.batchSize = batchSize; self.imageSize = imageSize
        self.warmup = warmup; self.steps = steps; self.classes = classes; self.unit = unit; self.detail = detail
    }

    /// The network, or the one unit asked for, with its input shape and forward FLOPs per image.
    private func target(_ net: ResNet) throws -> (run: (Tensor) -> Tensor, input: [Int], flops: Double) {
        let summary = try net.checkedSummary(imageSize: imageSize)
        guard let unit else {
            return ({ net($0) }, [batchSize, imageSize, imageSize, net.config.inputChannels], Double(summary.flops))
        }
        guard let module = net.modules.first(where: { $0.path == unit }) as? any ResidualUnit,
              let first = summary.layers.first(where: { $0.name.hasPrefix(unit + ".") }),
              let source = summary.layers.first(where: { $0.name == first.inputs.first }) else {
            throw TrainingError.invalidOption("--unit \(unit): no residual unit of that name in \(net.config.name) (e.g. layer1.1)")
        }
        let flops = summary.layers.filter { $0.name.hasPrefix(unit + ".") }.reduce(0) { $0 + $1.flops }
        return ({ module($0) }, [batchSize] + source.outputShape, Double(flops))
    }

    /// Runs the loop; `report(step, seconds)` is called for every timed step.
    public func run(report: (Int, Double) -> Void = { _, _ in }) throws -> Result {
        var config = try ResNetRegistry.config(model)
        if let classes { config.numClasses = classes }
        // Before a parameter or an activation is allocated: sizes from the command line can be anything.
        try config.validateInput(height: imageSize, width: imageSize, batchSize: batchSize)
        guard steps >= 1, warmup >= 0 else { throw TrainingError.invalidOption("--steps must be at least 1 and --warmup not negative") }
        let net = try ResNet(config)
        let (forward, inputShape, flopsPerImage) = try target(net)
        let k = net.config.numClasses ?? 1000
        let x = Tensor.randomUniform(inputShape, seed: 1)
        var g = SeededGenerator(seed: 2)
        let labels = LabelTensor((0..<batchSize).map { _ in Int32(g.next() % UInt64(k)) })
        let optimizer = mode == .train ? SGD(parameters: net.trainableParameters, learningRate: 1e-4, momentum: 0.9) : nil
        mode == .forward ? net.eval() : net.train()
        func step() {
            if mode == .forward {
                _ = GradMode.withoutGradient { forward(x) }
                return
            }
            let y = forward(x)
            if unit == nil {
                crossEntropy(y, labels: labels).backward()
            } else {
                y.backward(seed: Tensor(repeating: 1, shape: y.shape))
            }
            EngineContext.current.profiler.measure(.optimizer, pass: .update) {
                if let optimizer { optimizer.step() }
                for p in net.namedParameters { p.tensor.zeroGradient() }
            }
        }
        for _ in 0..<warmup { step() }
        let engine = EngineContext.current
        engine.memory.resetPeak()
        let mappedBefore = engine.memory.freshlyMappedBytes
        engine.profiler.start(detail)
        var durations: [Double] = []
        for i in 0..<steps {
            let start = DispatchTime.now().uptimeNanoseconds
            step()
            let d = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            durations.append(d)
            report(i, d)
        }
        let mean = durations.reduce(0, +) / Double(max(steps, 1))
        let variance = durations.reduce(0) { $0 + $1 * $1 } / Double(max(steps, 1)) - mean * mean
        let sorted = durations.sorted()
        let median = sorted.isEmpty ? 0 : (sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]) / 2
        engine.profiler.stop()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        var result = Result(model: model, mode: mode, batchSize: batchSize, imageSize: imageSize, threads: OneDNN.threads, steps: steps,
                      durations: durations, mean: mean, standardDeviation: max(variance, 0).squareRoot(), median: median,
                      imagesPerSecond: Double(batchSize) / median,
                      gflopsPerSecond: flopsPerImage * Double(batchSize) * mode.flopFactor / median / 1e9,
                      forwardGFLOPsPerImage: flopsPerImage / 1e9, peakTensorBytes: engine.memory.peakBytes,
                      peakResidentBytes: Int(usage.ru_maxrss) * 1024,
                      freshlyMappedBytesPerStep: (engine.memory.freshlyMappedBytes - mappedBefore) / max(steps, 1))
        if detail { addDetail(to: &result) }
        return result
    }

    /// Per-step op times from the profiler; what no op accounts for (autodiff bookkeeping,
    /// allocation, Swift glue) becomes "other".
    private func addDetail(to result: inout Result) {
        let perStep = { (e: Profiler.Entry) -> Profiler.Entry in
            var e = e; e.seconds /= Double(max(self.steps, 1)); e.calls /= max(self.steps, 1); return e
        }
        let profiler = EngineContext.current.profiler
        var kinds = profiler.kinds.map(perStep)
        let accounted = kinds.reduce(0) { $0 + $1.seconds }
        kinds.append(Profiler.Entry(kind: .other, pass: nil, calls: 0, seconds: max(result.mean - accounted, 0)))
        result.breakdown = kinds
        result.slowest = Array(profiler.primitives.prefix(12).map(perStep))
        result.sgemmGFLOPs = OneDNN.sgemmGFLOPs()
    }
}
