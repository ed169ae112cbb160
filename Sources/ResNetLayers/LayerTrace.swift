import ResNetEngine

/// Records what each layer produced during one forward pass: the source of `resnet summary`'s
/// table (shapes as they really come out, not as predicted), its FLOP count and its graph.
public final class LayerTrace: @unchecked Sendable {
    /// What a layer computed, with the attributes another runtime needs to compute it again
    /// (the ONNX export reads these; the summary shows `type`).
    public enum Operation: Sendable, Equatable {
        /// relu?(conv(inputs[0]) + bias + inputs[1]?): the residual, when there is one, is the second input.
        case convolution(kernel: Int, stride: Int, padding: Padding, dilation: Int, groups: Int, relu: Bool)
        /// Batch norm with running statistics (inference), optionally followed by ReLU.
        case batchNorm(epsilon: Float, relu: Bool)
        case maxPool(kernel: Int, stride: Int, padding: Padding)
        /// NHWC to [N, C].
        case globalAveragePool
        /// x W^T + b, a rank-4 input flattened first.
        case dense
        /// relu?(inputs[0] + inputs[1]).
        case add(relu: Bool)
        /// The paper's option-A shortcut: every `stride`-th pixel, zero channels appended up to `channels`.
        case zeroPadShortcut(channels: Int, stride: Int)
    }

    public struct Entry: Sendable {
        public let name: String
        public let type: String
        /// Output shape without the batch dimension.
        public let outputShape: [Int]
        public let trainableParameters: Int
        public let nonTrainableParameters: Int
        /// Forward FLOPs for one image (a multiply-add counts 2).
        public let flops: Int
        /// Names of the entries whose outputs this layer read ("input" for the network input).
        public let inputs: [String]
        /// What it computed (nil: a layer that does not describe itself).
        public let operation: Operation?
    }

    /// The trace being captured on this thread (task-local: a trace on one thread records nothing from another).
    @TaskLocal static var active: LayerTrace?

    public private(set) var entries: [Entry] = []
    private var producers: [ObjectIdentifier: String] = [:]
    /// Keeps traced tensors alive so their identities stay unique during the trace.
    private var alive: [Tensor] = []

    /// Runs `body` on `input` with tracing on and returns what every layer recorded.
    public static func capture(_ input: Tensor, _ body: (Tensor) -> Tensor) -> [Entry] {
        let trace = LayerTrace()
        trace.producers[ObjectIdentifier(input)] = "input"
        trace.alive.append(input)
        _ = $active.withValue(trace) { GradMode.withoutGradient { body(input) } }
        return trace.entries
    }

    /// Called by layers after computing `output`; a no-op when no trace is running.
    static func record(_ module: Module, type: String, operation: Operation, inputs: [Tensor], output: Tensor, flops: Int) {
        guard let trace = active else { return }
        let trainable = module.localParameters.reduce(0) { $0 + $1.tensor.count }
        let buffers = module.localBuffers.filter { $0.name != "num_batches_tracked" }.reduce(0) { $0 + $1.tensor.count }
        trace.add(name: module.displayName, type: type, operation: operation, inputs: inputs, output: output, trainable: trainable,
                  nonTrainable: buffers, flops: flops)
    }

    /// Records an op that is not a module of its own (a residual add, a shortcut subsample).
    public static func recordOp(_ name: String, type: String, operation: Operation? = nil, inputs: [Tensor], output: Tensor, flops: Int = 0) {
        active?.add(name: name, type: type, operation: operation, inputs: inputs, output: output, trainable: 0, nonTrainable: 0, flops: flops)
    }

    private func add(name: String, type: String, operation: Operation?, inputs: [Tensor], output: Tensor, trainable: Int, nonTrainable: Int, flops: Int) {
        let batch = max(output.shape.first ?? 1, 1)
        entries.append(Entry(name: name, type: type, outputShape: Array(output.shape.dropFirst()),
                             trainableParameters: trainable, nonTrainableParameters: nonTrainable, flops: flops / batch,
                             inputs: inputs.map { producers[ObjectIdentifier($0)] ?? "?" }, operation: operation))
        producers[ObjectIdentifier(output)] = name
        alive.append(output)
    }

    public static var isActive: Bool { active != nil }
}
