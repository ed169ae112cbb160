import Foundation
@testable import ResNetServe
import XCTest

/// The batcher alone, with a fake model that records its batches: sizes, order, admission limits,
/// failures and the drain on shutdown, all without a clock (long delays are ended by `flush`).
final class DynamicBatcherTests: XCTestCase {
    /// A model that doubles its inputs and records each batch.
    private final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var sizes: [Int] = []
        var batches: [Int] { lock.lock(); defer { lock.unlock() }; return sizes }
        func run(_ inputs: [Int]) -> [Int] {
            lock.lock(); sizes.append(inputs.count); lock.unlock()
            return inputs.map { $0 * 2 }
        }
    }

    private func started(maxBatch: Int, delay: DispatchTimeInterval = .seconds(600), queueLimit: Int = 100,
                         run: @escaping ([Int]) throws -> [Int]) throws -> DynamicBatcher<Int, Int> {
        let batcher = DynamicBatcher<Int, Int>(maxBatch: maxBatch, maxDelay: delay, queueLimit: queueLimit)
        try batcher.start { run }
        return batcher
    }

    /// Runs `body` in a task and waits for it on this thread.
    private func wait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>(), done = DispatchSemaphore(value: 0)
        Task { box.result = await Result { try await body() }; done.signal() }
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        return try XCTUnwrap(box.result).get()
    }

    func testFullBatchesRunAtOnceAndTheRestWhenFlushed() throws {
        let recorder = Recorder()
        let batcher = try started(maxBatch: 4) { recorder.run($0) }
        let reservation = try batcher.reserve(10)
        let task = Task { try await batcher.submit(Array(0..<10), reservation: reservation) }
        // Two full batches run without waiting; the last two images wait for the (10-minute) delay.
        for _ in 0..<600 where recorder.batches.count < 2 { usleep(10_000) }
        XCTAssertEqual(recorder.batches, [4, 4])
        batcher.flush()
        let outputs = try wait { try await task.value }
        XCTAssertEqual(outputs, (0..<10).map { $0 * 2 }, "outputs in input order")
        XCTAssertEqual(recorder.batches, [4, 4, 2])
        batcher.shutdown()
    }

    func testConcurrentRequestsShareBatches() throws {
        let recorder = Recorder()
        let batcher = try started(maxBatch: 6) { recorder.run($0) }
        let outputs = try wait {
            try await withThrowingTaskGroup(of: (Int, [Int]).self) { group in
                for i in 0..<12 {
                    let reservation = try batcher.reserve(1)
                    group.addTask { (i, try await batcher.submit([i], reservation: reservation)) }
                }
                var all: [Int: [Int]] = [:]
                for try await (i, output) in group { all[i] = output }
                return all
            }
        }
        XCTAssertEqual(outputs, Dictionary(uniqueKeysWithValues: (0..<12).map { ($0, [$0 * 2]) }), "each request gets its own answer")
        XCTAssertEqual(recorder.batches, [6, 6], "twelve single-image requests ran as two full batches")
        batcher.shutdown()
    }

    func testAdmissionIsBoundedAndAllOrNothing() throws {
        let batcher = try started(maxBatch: 8, queueLimit: 4) { $0 }
        let three = try batcher.reserve(3)
        XCTAssertThrowsError(try batcher.reserve(2)) { XCTAssertEqual($0 as? DynamicBatcher<Int, Int>.Failure, .queueFull(limit: 4)) }
        let one = try batcher.reserve(1)
        batcher.release(three)
        XCTAssertNoThrow(try batcher.reserve(3), "released places are free again")
        XCTAssertThrowsError(try batcher.reserve(1), "4 of 4 are held")
        batcher.release(one)
        XCTAssertNoThrow(try batcher.reserve(1))
    }

    func testShutdownWaitsForAdmittedRequestsAndThenRefuses() throws {
        let recorder = Recorder()
        let batcher = try started(maxBatch: 8) { recorder.run($0) }
        let reservation = try batcher.reserve(2)
        let stopped = DispatchSemaphore(value: 0)
        Thread { batcher.shutdown(); stopped.signal() }.start()
        // The reservation is still being decoded: shutdown waits for it.
        XCTAssertEqual(stopped.wait(timeout: .now() + 0.2), .timedOut, "shutdown waits for admitted items")
        XCTAssertThrowsError(try batcher.reserve(1)) { XCTAssertEqual($0 as? DynamicBatcher<Int, Int>.Failure, .shuttingDown) }
        XCTAssertEqual(try wait { try await batcher.submit([5, 6], reservation: reservation) }, [10, 12])
        XCTAssertEqual(stopped.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(recorder.batches, [2])
    }

    func testAFailingRunFailsItsRequestsAndTheBatcherGoesOn() throws {
        struct Broken: Error {}
        let batcher = try started(maxBatch: 2, delay: .milliseconds(0)) { inputs in
            if inputs.contains(13) { throw Broken() }
            return inputs.count == 2 ? [1] : inputs  // a wrong count for pairs
        }
        XCTAssertThrowsError(try wait { try await batcher.submit([13], reservation: try batcher.reserve(1)) }) {
            XCTAssertEqual($0 as? DynamicBatcher<Int, Int>.Failure, .runFailed("Broken()"))
        }
        XCTAssertThrowsError(try wait { try await batcher.submit([1, 2], reservation: try batcher.reserve(2)) }) {
            XCTAssertEqual($0 as? DynamicBatcher<Int, Int>.Failure, .runFailed("1 outputs for a batch of 2"))
        }
        XCTAssertEqual(try wait { try await batcher.submit([7], reservation: try batcher.reserve(1)) }, [7])
        batcher.shutdown()
    }

    func testPrepareRunsOnTheBatchThreadAndItsErrorIsRethrown() throws {
        struct NoModel: Error {}
        let batcher = DynamicBatcher<Int, Int>(maxBatch: 1, maxDelay: .milliseconds(0), queueLimit: 1)
        XCTAssertThrowsError(try batcher.start { throw NoModel() }) { XCTAssertTrue($0 is NoModel) }
        batcher.shutdown()  // returns at once: the thread has ended

        let prepareThread = ResultBox<String>(), runThread = ResultBox<String>()
        let other = try started(maxBatch: 1) { $0 }
        other.shutdown()
        let named = DynamicBatcher<Int, Int>(maxBatch: 1, maxDelay: .milliseconds(0), queueLimit: 1)
        try named.start {
            prepareThread.result = .success("\(Thread.current)")
            return { runThread.result = .success("\(Thread.current)"); return $0 }
        }
        _ = try wait { try await named.submit([1], reservation: try named.reserve(1)) }
        XCTAssertEqual(try prepareThread.result?.get(), try runThread.result?.get(), "prepare and every batch run on one thread")
        XCTAssertNotEqual(try prepareThread.result?.get(), "\(Thread.current)")
        named.shutdown()
    }
}

final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<T, Error>?
    var result: Result<T, Error>? {
        get { lock.lock(); defer { lock.unlock() }; return value }
        set { lock.lock(); value = newValue; lock.unlock() }
    }
}

extension Result where Failure == Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
