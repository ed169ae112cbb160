/// Everything an op needs beyond its tensors: the backend (with its oneDNN stream, scratchpad and
/// primitive and weight caches), the options, the profiler and the memory pool. Ops find it through
/// `EngineContext.current`, so one model can run on one thread while another runs elsewhere.
///
/// A context is used by one thread at a time (its stream and scratchpad serve one op at a time);
/// to run models concurrently, give each thread its own context and `run` in it there.
public final class EngineContext: @unchecked Sendable {
    public let options: EngineOptions
    public let backend: ComputeBackend
    public let profiler: Profiler
    /// Where this context's tensors get their buffers, and its live and peak byte counts.
    public let memory: MemoryPool

    public init(options: EngineOptions = .default) {
        self.options = options
        profiler = Profiler()
        memory = MemoryPool(limit: options.poolLimitBytes)
        switch options.backend {
        case .cpu: backend = CPUBackend(options: options, profiler: profiler)
        case .reference: backend = ReferenceBackend()
        }
    }

    /// The context of code that never chose one: the only engine state the process holds by default.
    public static let `default` = EngineContext()

    /// The context ops on this thread (or task) use now: `default` unless inside `run`.
    @TaskLocal public static var current: EngineContext = .default

    /// Runs `body` with this context as `current` (on the calling thread; task-locals need no task).
    public func run<T>(_ body: () throws -> T) rethrows -> T {
        try EngineContext.$current.withValue(self, operation: body)
    }
}
