import Dispatch
import Foundation

/// One epoch's stream of batches, delivered in order: `while let b = try it.next() { … }`.
/// Workers claim batch indices, decode them and park the result; a worker may only run
/// `queueDepth` batches ahead of the consumer, which bounds memory whatever the dataset size.
public final class EpochIterator {
    public let epoch: Int
    private let state: SharedState
    private let loader: DataLoader
    private var finished = false
    private let start = DispatchTime.now().uptimeNanoseconds
    /// Progress and skips so far; complete once `next()` has returned nil.
    public private(set) var statistics: EpochStatistics

    /// Synchronised between the consumer and the workers (workers hold only this, not the
    /// iterator, so releasing the iterator stops them).
    final class SharedState: @unchecked Sendable {
        let condition = NSCondition()
        var nextToClaim: Int
        var nextToDeliver: Int
        let endBatch: Int
        var ready: [Int: Result<BatchAssembler.Output, Error>] = [:]
        var cancelled = false
        var runningWorkers = 0

        init(startBatch: Int, endBatch: Int) {
            nextToClaim = startBatch
            nextToDeliver = startBatch
            self.endBatch = endBatch
        }
    }

    init(loader: DataLoader, epoch: Int, startBatch: Int) {
        self.loader = loader
        self.epoch = epoch
        self.statistics = EpochStatistics(epoch: epoch)
        let end = loader.batchesPerEpoch
        state = SharedState(startBatch: Swift.min(startBatch, end), endBatch: end)
        let order = loader.order(epoch: epoch)
        let workers = loader.options.workers  // at least 1: LoaderOptions.validate
        let depth = loader.options.queueDepth
        state.runningWorkers = workers
        for w in 0..<workers {
            let thread = Thread { [state, loader] in
                EpochIterator.workerLoop(state: state, loader: loader, epoch: epoch, order: order, depth: depth)
            }
            thread.name = "ResNetData.worker.\(w)"
            thread.start()
        }
    }

    static func workerLoop(state: SharedState, loader: DataLoader, epoch: Int, order: [Int], depth: Int) {
        state.condition.lock()
        while !state.cancelled && state.nextToClaim < state.endBatch {
            if state.nextToClaim >= state.nextToDeliver + depth { state.condition.wait(); continue }
            let b = state.nextToClaim
            state.nextToClaim += 1
            state.condition.unlock()
            let result = Result { try loader.assemble(epoch: epoch, batchIndex: b, order: order) }
            state.condition.lock()
            state.ready[b] = result
            state.condition.broadcast()
        }
        state.runningWorkers -= 1
        state.condition.broadcast()
        state.condition.unlock()
    }

    /// The next batch, or nil at the end of the epoch. Throws the first unreadable image's
    /// error in strict mode (and then stops the workers).
    public func next() throws -> ImageBatch? {
        while true {
            guard let output = try nextOutput() else { return nil }
            for s in output.skipped {
                statistics.skipped.append((s.source, s.reason))
                loader.warnOnce(index: s.index, message: "skipping \(s.reason)")
            }
            if output.batch.count == 0 { continue }  // every image of this batch was unreadable
            statistics.batches += 1
            statistics.images += output.batch.count
            statistics.elapsedSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            return output.batch
        }
    }

    private func nextOutput() throws -> BatchAssembler.Output? {
        if finished { return nil }
        state.condition.lock()
        guard state.nextToDeliver < state.endBatch else { state.condition.unlock(); return finish() }
        let b = state.nextToDeliver
        let waitStart = DispatchTime.now().uptimeNanoseconds
        while state.ready[b] == nil && !state.cancelled { state.condition.wait() }
        statistics.waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - waitStart) / 1e9
        let result = state.ready.removeValue(forKey: b)
        state.nextToDeliver += 1
        state.condition.broadcast()
        state.condition.unlock()
        switch result {
        case .success(let output)?: return output
        case .failure(let error)?: cancel(); finished = true; throw error
        case nil: finished = true; return nil  // cancelled
        }
    }

    /// End of epoch: one summary line if images were skipped.
    private func finish() -> BatchAssembler.Output? {
        if !finished && !statistics.skipped.isEmpty {
            // Epochs are 0-based in code but 1-based wherever users read them (the progress bar).
            // Epochs are 0-based in code but 1-based wherever users read them (the progress bar).
            loader.warningHandler("epoch \(epoch + 1): skipped \(statistics.skipped.count) unreadable image\(statistics.skipped.count == 1 ? "" : "s")")
        }
        finished = true
        cancel()
        return nil
    }

    /// Stops the workers and waits until they have exited (each finishes at most its
    /// current batch). Safe to call more than once.
    public func cancel() {
        state.condition.lock()
        state.cancelled = true
        state.condition.broadcast()
        while state.runningWorkers > 0 { state.condition.wait() }
        state.ready.removeAll()
        state.condition.unlock()
    }

    /// Workers currently alive (for tests that check threads stop).
    public var runningWorkers: Int {
        state.condition.lock()
        defer { state.condition.unlock() }
        return state.runningWorkers
    }

    deinit { cancel() }
}
