import Foundation

/// Worker threads that decode and preprocess images off the server's event loops and off the
/// models' batch threads. Bounded to the core count: decoding is CPU work, and a decoded image can
/// be large, so running more at once would only raise peak memory.
final class DecodePool: Sendable {
    private let queue: OperationQueue

    init(threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        let queue = OperationQueue()
        queue.name = "resnet-serve-decode"
        queue.maxConcurrentOperationCount = max(1, threads)
        self.queue = queue
    }

    /// Runs `work` on a worker thread and returns its result.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.addOperation { continuation.resume(with: Result { try work() }) }
        }
    }
}
