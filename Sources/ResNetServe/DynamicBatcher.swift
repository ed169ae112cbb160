import Foundation

/// Gathers items from many requests into batches and runs each batch once on one dedicated
/// thread: a model's engine context serves one thread at a time, and one forward pass over N
/// images costs far less than N passes of one.
///
/// A batch starts when `maxBatch` items wait or `maxDelay` after the oldest waiting item was
/// queued, whichever is first. Admission is bounded: `reserve` refuses once `queueLimit` items are
/// admitted and not yet taken into a running batch, so an overloaded server answers 503 at once
/// instead of queueing without end.
public final class DynamicBatcher<Input: Sendable, Output: Sendable>: @unchecked Sendable {
    public typealias Run = ([Input]) throws -> [Output]

    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// `queueLimit` items are already admitted.
        case queueFull(limit: Int)
        /// The batcher is draining for shutdown and takes no new work.
        case shuttingDown
        /// The batch's run threw or answered the wrong number of outputs.
        case runFailed(String)

        public var description: String {
            switch self {
            case .queueFull(let limit): return "the queue is full (\(limit) images waiting); retry later"
            case .shuttingDown: return "the server is shutting down"
            case .runFailed(let message): return "inference failed: \(message)"
            }
        }
    }

    /// Room for `count` items, held from admission (before decoding) until the items are submitted
    /// or the reservation is released.
    public struct Reservation: Sendable {
        public let count: Int
    }

    /// What the batcher reports as it works: its queue depth after each change and each batch's size.
    public struct Observer: Sendable {
        public var queueDepth: @Sendable (Int) -> Void = { _ in }
        public var batch: @Sendable (Int) -> Void = { _ in }
        public init(queueDepth: @escaping @Sendable (Int) -> Void = { _ in }, batch: @escaping @Sendable (Int) -> Void = { _ in }) {
            self.queueDepth = queueDepth
            self.batch = batch
        }
    }

    /// One request's items and where their outputs go. Only the batcher thread touches `outputs`
    /// and `remaining` once the job is queued.
    private final class Job {
        let inputs: [Input]
        var outputs: [Output?]
        var remaining: Int
        let continuation: CheckedContinuation<[Output], Error>
        init(inputs: [Input], continuation: CheckedContinuation<[Output], Error>) {
            self.inputs = inputs
            outputs = Array(repeating: nil, count: inputs.count)
            remaining = inputs.count
            self.continuation = continuation
        }
    }

    private struct Item {
        let job: Job
        let index: Int
        let queued: DispatchTime
    }

    public let maxBatch: Int
    public let maxDelay: DispatchTimeInterval
    public let queueLimit: Int
    private let observer: Observer
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var waiting: [Item] = []
    private var admitted = 0
    private var stopping = false
    /// Set by `flush()`: batches run as soon as the thread is free, without waiting out the delay.
    private var flushing = false
    private var finished = false

    public init(maxBatch: Int, maxDelay: DispatchTimeInterval, queueLimit: Int, observer: Observer = Observer()) {
        precondition(maxBatch >= 1 && queueLimit >= 1, "maxBatch and queueLimit must be at least 1")
        self.maxBatch = maxBatch
        self.maxDelay = maxDelay
        self.queueLimit = queueLimit
        self.observer = observer
    }

    /// Starts the batch thread: `prepare` runs on it first (so whatever it builds, e.g. a model in its
    /// engine context, lives on that thread) and returns the function each batch runs. Returns once
    /// `prepare` has returned; its error is rethrown here and the thread ends.
    public func start(stackSize: Int = 16 << 20, prepare: @escaping () throws -> Run) throws {
        let ready = DispatchSemaphore(value: 0)
        let failure = LockedBox<Error?>(nil)
        let thread = Thread { [self] in
            let run: Run
            do { run = try prepare() } catch {
                failure.set(error)
                condition.lock(); finished = true; condition.unlock()
                ready.signal()
                return
            }
            ready.signal()
            loop(run)
        }
        thread.stackSize = stackSize
        thread.start()
        ready.wait()
        if let error = failure.get() { throw error }
    }

    /// Admits `count` items or throws `.queueFull` / `.shuttingDown`; all or nothing, so a
    /// multi-image request is never half admitted.
    public func reserve(_ count: Int) throws -> Reservation {
        condition.lock()
        defer { condition.unlock() }
        if stopping { throw Failure.shuttingDown }
        guard admitted + count <= queueLimit else { throw Failure.queueFull(limit: queueLimit) }
        admitted += count
        observer.queueDepth(admitted)
        return Reservation(count: count)
    }

    /// Gives back a reservation whose items will not be submitted (e.g. an image failed to decode).
    public func release(_ reservation: Reservation) {
        condition.lock()
        admitted -= reservation.count
        observer.queueDepth(admitted)
        condition.broadcast()
        condition.unlock()
    }

    /// Queues `inputs` (admitted by `reservation`, same count) and returns their outputs in order
    /// once the batches holding them have run. Items of one call may run in different batches.
    public func submit(_ inputs: [Input], reservation: Reservation) async throws -> [Output] {
        precondition(inputs.count == reservation.count, "submit the items the reservation admitted")
        if inputs.isEmpty { release(reservation); return [] }
        return try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            if finished {
                admitted -= reservation.count
                condition.unlock()
                continuation.resume(throwing: Failure.shuttingDown)
                return
            }
            let job = Job(inputs: inputs, continuation: continuation)
            let now = DispatchTime.now()
            waiting.append(contentsOf: inputs.indices.map { Item(job: job, index: $0, queued: now) })
            condition.broadcast()
            condition.unlock()
        }
    }

    /// The first step of a graceful shutdown: from now on batches run without waiting out the delay
    /// (no more requests are coming to fill them); admission goes on for requests already arriving.
    public func flush() {
        condition.lock()
        flushing = true
        condition.broadcast()
        condition.unlock()
    }

    /// Stops admitting, runs what is queued without waiting out the delay, and returns once the
    /// batch thread has answered everything and ended.
    public func shutdown() {
        condition.lock()
        stopping = true
        flushing = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    /// The batch thread: wait for a first item, then for a full batch or its deadline; run; answer.
    private func loop(_ run: Run) {
        condition.lock()
        while true {
            // Reserved items not yet submitted are still coming: a draining batcher waits for them.
            while waiting.isEmpty && !(stopping && admitted == 0) { condition.wait() }
            if waiting.isEmpty { break }
            let deadline = waiting[0].queued + maxDelay
            while waiting.count < maxBatch && !flushing {
                let now = DispatchTime.now()
                guard now < deadline else { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(deadline.uptimeNanoseconds - now.uptimeNanoseconds) / 1e9))
            }
            let batch = Array(waiting.prefix(maxBatch))
            waiting.removeFirst(batch.count)
            admitted -= batch.count
            observer.queueDepth(admitted)
            condition.unlock()

            observer.batch(batch.count)
            answer(batch, with: Result { try run(batch.map { $0.job.inputs[$0.index] }) })
            condition.lock()
        }
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Hands each item its output; a job is resumed once all of its items are answered.
    private func answer(_ batch: [Item], with result: Result<[Output], Error>) {
        var outputs: [Output]
        switch result {
        case .success(let values) where values.count == batch.count: outputs = values
        case .success(let values):
            return fail(batch, Failure.runFailed("\(values.count) outputs for a batch of \(batch.count)"))
        case .failure(let error): return fail(batch, Failure.runFailed("\(error)"))
        }
        for (item, output) in zip(batch, outputs) {
            let job = item.job
            guard job.remaining > 0 else { continue }  // already failed
            job.outputs[item.index] = output
            job.remaining -= 1
            if job.remaining == 0 { job.continuation.resume(returning: job.outputs.map { $0! }) }
        }
        outputs.removeAll()
    }

    private func fail(_ batch: [Item], _ error: Error) {
        for item in batch where item.job.remaining > 0 {
            item.job.remaining = 0
            item.job.continuation.resume(throwing: error)
        }
    }
}

/// A value shared between threads under a lock.
final class LockedBox<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ newValue: Value) { lock.lock(); value = newValue; lock.unlock() }
    func withValue<T>(_ body: (inout Value) throws -> T) rethrows -> T { lock.lock(); defer { lock.unlock() }; return try body(&value) }
}
