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
    }

    public var model: String
    public var mode: Mode
    public var batchSize: Int
    public var imageSize: Int
    public var warmup: Int
    public var steps: Int
    public var classes: Int?

    public init(model: String, mode: Mode, batchSize: Int = 32, imageSize: Int = 224, warmup: Int = 10, steps: Int = 100, classes: Int? = nil) {
        self.model = model; self.mode = mode; self.batchSize = batchSize; self.imageSize = imageSize
        self.warmup = warmup; self.steps = steps; self.classes = classes
    }

    /// Runs the loop; `report(step, seconds)` is called for every timed step.
    public func run(report: (Int, Double) -> Void = { _, _ in }) throws -> Result {
        let net = try ResNetRegistry.make(model) { c in if let classes = self.classes { c.numClasses = classes } }
        let flopsPerImage = Double(net.summary(imageSize: imageSize).flops)
        let k = net.config.numClasses ?? 1000
        let x = Tensor.randomUniform([batchSize, imageSize, imageSize, net.config.inputChannels], seed: 1)
        var g = SeededGenerator(seed: 2)
        let labels = LabelTensor((0..<batchSize).map { _ in Int32(g.next() % UInt64(k)) })
        let optimizer = mode == .train ? SGD(parameters: net.trainableParameters, learningRate: 1e-4, momentum: 0.9) : nil
        mode == .forward ? net.eval() : net.train()
        func step() {
            if mode == .forward {
                _ = GradMode.withoutGradient { net(x) }
                return
            }
            let loss = crossEntropy(net(x), labels: labels)
            loss.backward()
            if let optimizer { optimizer.step() }
            for p in net.namedParameters { p.tensor.zeroGradient() }
        }
        for _ in 0..<warmup { step() }
        Storage.resetPeak()
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
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Result(model: model, mode: mode, batchSize: batchSize, imageSize: imageSize, threads: OneDNN.threads, steps: steps,
                      durations: durations, mean: mean, standardDeviation: max(variance, 0).squareRoot(), median: median,
                      imagesPerSecond: Double(batchSize) / median,
                      gflopsPerSecond: flopsPerImage * Double(batchSize) * mode.flopFactor / median / 1e9,
                      forwardGFLOPsPerImage: flopsPerImage / 1e9, peakTensorBytes: Storage.peakBytes,
                      peakResidentBytes: Int(usage.ru_maxrss) * 1024)
    }
}
