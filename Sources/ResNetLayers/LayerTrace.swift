import ResNetEngine

/// Records what each layer produced during one forward pass: the source of `resnet summary`'s
/// table (shapes as they really come out, not as predicted), its FLOP count and its graph.
public final class LayerTrace: @unchecked Sendable {
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
    static func record(_ module: Module, type: String, inputs: [Tensor], output: Tensor, flops: Int) {
        guard let trace = active else { return }
        let trainable = module.localParameters.reduce(0) { $0 + $1.tensor.count }
        let buffers = module.localBuffers.filter { $0.name != "num_batches_tracked" }.reduce(0) { $0 + $1.tensor.count }
        trace.add(name: module.displayName, type: type, inputs: inputs, output: output, trainable: trainable,
                  nonTrainable: buffers, flops: flops)
    }

    /// Records an op that is not a module of its own (a residual add, a shortcut subsample).
    public static func recordOp(_ name: String, type: String, inputs: [Tensor], output: Tensor, flops: Int = 0) {
        active?.add(name: name, type: type, inputs: inputs, output: output, trainable: 0, nonTrainable: 0, flops: flops)
    }

    private func add(name: String, type: String, inputs: [Tensor], output: Tensor, trainable: Int, nonTrainable: Int, flops: Int) {
        let batch = max(output.shape.first ?? 1, 1)
        entries.append(Entry(name: name, type: type, outputShape: Array(output.shape.dropFirst()),
                             trainableParameters: trainable, nonTrainableParameters: nonTrainable, flops: flops / batch,
                             inputs: inputs.map { producers[ObjectIdentifier($0)] ?? "?" }))
        producers[ObjectIdentifier(output)] = name
        alive.append(output)
    }

    public static var isActive: Bool { active != nil }
}
