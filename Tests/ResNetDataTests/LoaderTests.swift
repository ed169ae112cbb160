import Foundation
import XCTest
@testable import ResNetData

/// Batching, determinism across thread counts, resume, bad-input policy, and clean shutdown.
final class LoaderTests: XCTestCase {
    /// n images of 6x5 gray, image i filled with a gradient offset by i, label i % 3.
    private func memoryDataset(_ n: Int = 50) -> InMemoryDataset {
        var pixels: [UInt8] = []
        for i in 0..<n { for p in 0..<30 { pixels.append(UInt8((i * 5 + p * 3) % 256)) } }
        let storage = InMemoryDataset.Storage(pixels: pixels, labels: (0..<n).map { UInt8($0 % 3) }, height: 5, width: 6, channels: 1, name: "mem")
        return InMemoryDataset(storage: storage, classNames: ["a", "b", "c"])
    }

    private let augmenting = ImagePipeline(channels: 1, augmentation: AffineAugmentation(rotationRange: 10, widthShiftRange: 0.2,
                                           heightShiftRange: 0.2, shearRange: 5, zoomRange: 0.2, horizontalFlip: true), rescale: 1.0 / 255)

    private func epochBatches(_ loader: DataLoader, _ epoch: Int, from start: Int = 0) throws -> [ImageBatch] {
        let it = loader.epoch(epoch, startingAtBatch: start)
        var batches: [ImageBatch] = []
        while let b = try it.next() { batches.append(b) }
        return batches
    }

    private func assertSame(_ a: [ImageBatch], _ b: [ImageBatch], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.indices, y.indices, file: file, line: line)
            XCTAssertEqual(x.labels, y.labels, file: file, line: line)
            XCTAssertEqual(x.images, y.images, file: file, line: line)
        }
    }

    func testSameSeedGivesSameBatchesWithOneAndTwoWorkers() throws {
        let ds = memoryDataset()
        var results: [[[ImageBatch]]] = []
        for workers in [1, 2, 3] {
            let loader = try DataLoader(dataset: ds, pipeline: augmenting, options: LoaderOptions(batchSize: 8, seed: 11, workers: workers, prefetch: 3))
            results.append([try epochBatches(loader, 0), try epochBatches(loader, 1)])
        }
        assertSame(results[0][0], results[1][0]); assertSame(results[0][1], results[1][1])
        assertSame(results[0][0], results[2][0])
        XCTAssertNotEqual(results[0][0][0].indices, results[0][1][0].indices, "reshuffled every epoch")
        let other = try DataLoader(dataset: ds, pipeline: augmenting, options: LoaderOptions(batchSize: 8, seed: 12, workers: 2))
        XCTAssertNotEqual(try epochBatches(other, 0)[0].indices, results[0][0][0].indices)
    }

    func testBatchShapesLabelsAndCoverage() throws {
        let ds = memoryDataset()
        let loader = try DataLoader(dataset: ds, pipeline: ImagePipeline(channels: 3, rescale: 1.0 / 255),
                                    options: LoaderOptions(batchSize: 8, seed: 1, workers: 2))
        let batches = try epochBatches(loader, 0)
        XCTAssertEqual(batches.map(\.count), [8, 8, 8, 8, 8, 8, 2])
        XCTAssertEqual(batches.map(\.batchIndex), Array(0..<7))
        let all = batches.flatMap(\.indices)
        XCTAssertEqual(all.sorted(), Array(0..<50))
        let first = batches[0]
        XCTAssertEqual([first.height, first.width, first.channels], [5, 6, 3])
        XCTAssertEqual(first.images.count, 8 * 5 * 6 * 3)
        XCTAssertEqual(first.labels, first.indices.map { Int32($0 % 3) })
        // NHWC: sample 1, row 2, col 4, channel 1 is the gray value of pixel (2, 4) of that image / 255.
        let i = first.indices[1]
        XCTAssertEqual(first.images[((1 * 5 + 2) * 6 + 4) * 3 + 1], Float((i * 5 + (2 * 6 + 4) * 3) % 256) / 255, accuracy: 1e-6)

        let dropping = try DataLoader(dataset: ds, pipeline: ImagePipeline(channels: 1), options: LoaderOptions(batchSize: 8, dropLast: true, workers: 1))
        XCTAssertEqual(dropping.batchesPerEpoch, 6)
        XCTAssertEqual(try epochBatches(dropping, 0).map(\.count), Array(repeating: 8, count: 6))
        let ordered = try DataLoader(dataset: ds, pipeline: ImagePipeline(channels: 1), options: LoaderOptions(batchSize: 20, shuffle: false, workers: 2))
        XCTAssertEqual(try epochBatches(ordered, 4).flatMap(\.indices), Array(0..<50))
    }

    func testResumeFromEpochAndBatchGivesTheRemainingBatchesExactly() throws {
        let loader = try DataLoader(dataset: memoryDataset(), pipeline: augmenting, options: LoaderOptions(batchSize: 8, seed: 4, workers: 2))
        let full = try epochBatches(loader, 3)
        let resumed = try epochBatches(loader, 3, from: 4)
        assertSame(Array(full[4...]), resumed)
        XCTAssertEqual(resumed.first?.batchIndex, 4)
        XCTAssertTrue(try epochBatches(loader, 3, from: 99).isEmpty)
    }

    func testCorruptImageIsSkippedWithWarningOrStopsInStrictMode() throws {
        let dir = TempDir()
        for i in 0..<5 { dir.write("a/\(i).png", try PNGCodec.encode(PixelImage(width: 4, height: 4, channels: 3, fill: UInt8(i)))) }
        let good = try PNGCodec.encode(PixelImage(width: 4, height: 4, channels: 3, fill: 9))
        let bad = dir.write("a/2.png", Array(good.prefix(good.count / 2)))
        let splits = try DatasetSplits.openFolder(dir.path, ratios: [1, 0, 0])
        let pipeline = ImagePipeline.keras(height: 4, width: 4)

        final class Messages: @unchecked Sendable { var list: [String] = []; let lock = NSLock() }
        let messages = Messages()
        let loader = try DataLoader(dataset: splits.train, pipeline: pipeline, options: LoaderOptions(batchSize: 2, workers: 2))
        loader.warningHandler = { m in messages.lock.lock(); messages.list.append(m); messages.lock.unlock() }
        for epoch in 0..<2 {
            let it = loader.epoch(epoch)
            var seen: [Int] = []
            while let b = try it.next() { seen += b.indices }
            XCTAssertEqual(seen.sorted(), [0, 1, 3, 4])
            XCTAssertEqual(it.statistics.skipped.count, 1)
            XCTAssertEqual(it.statistics.skipped.first?.source, bad)
            XCTAssertEqual(it.statistics.images, 4)
        }
        XCTAssertEqual(messages.list.filter { $0.contains(bad) && $0.contains("PNG") }.count, 1, "warned once per file: \(messages.list)")
        // Epochs 0 and 1 of the loader are the progress bar's epochs 1 and 2.
        XCTAssertEqual(messages.list.filter { $0.contains("skipped 1 unreadable image") }, ["epoch 1: skipped 1 unreadable image",
                       "epoch 2: skipped 1 unreadable image"], "one summary per epoch, numbered from 1")

        let strict = try DataLoader(dataset: splits.train, pipeline: pipeline, options: LoaderOptions(batchSize: 2, workers: 2, strict: true))
        let it = strict.epoch(0)
        XCTAssertThrowsError(try { while try it.next() != nil {} }()) { error in
            XCTAssertTrue(String(describing: error).contains(bad), "\(error)")
        }
        XCTAssertEqual(it.runningWorkers, 0)
    }

    func testWorkersStopWhenTheIteratorIsCancelledOrReleasedAndQueueIsBounded() throws {
        final class Counting: ImageDataset, @unchecked Sendable {
            let base: InMemoryDataset
            let lock = NSLock()
            var loads = 0
            init(_ base: InMemoryDataset) { self.base = base }
            var count: Int { base.count }
            var classNames: [String] { base.classNames }
            var uniformImageSize: (height: Int, width: Int)? { base.uniformImageSize }
            func label(at i: Int) -> Int { base.label(at: i) }
            func source(at i: Int) -> String { base.source(at: i) }
            func loadImage(at i: Int, channels: Int, sizeHint: DecodeSizeHint) throws -> PixelImage {
                lock.lock(); loads += 1; lock.unlock()
                return try base.loadImage(at: i, channels: channels, sizeHint: sizeHint)
            }
        }
        let ds = Counting(memoryDataset(200))
        let loader = try DataLoader(dataset: ds, pipeline: ImagePipeline(channels: 1), options: LoaderOptions(batchSize: 4, workers: 2, prefetch: 3))
        let it = loader.epoch(0)
        _ = try it.next()
        Thread.sleep(forTimeInterval: 0.2)  // let workers run ahead as far as they may
        ds.lock.lock(); let loads = ds.loads; ds.lock.unlock()
        XCTAssertLessThanOrEqual(loads, (1 + 3) * 4, "at most queue depth batches beyond the consumed one")
        it.cancel()
        XCTAssertEqual(it.runningWorkers, 0)
        XCTAssertNil(try it.next())

        weak var weakIterator: EpochIterator?
        do {
            let scoped = loader.epoch(1)
            weakIterator = scoped
            _ = try scoped.next()
        }
        XCTAssertNil(weakIterator, "released iterator is deallocated (its deinit joined the workers)")
    }

    /// Absurd worker counts and batch sizes were accepted (workers 0 decoded on the caller;
    /// 10^9 workers would start that many threads); now each is refused naming its limit.
    func testOptionsOutsideTheirLimitsAreRejectedBeforeAnyThreadStarts() throws {
        let ds = memoryDataset(10)
        let pipeline = ImagePipeline(channels: 1)
        let maxWorkers = LoaderOptions.maxWorkers
        XCTAssertGreaterThanOrEqual(maxWorkers, 64)
        XCTAssertEqual(maxWorkers, max(64, 8 * ProcessInfo.processInfo.activeProcessorCount))
        let limit = "between 1 and \(maxWorkers) (8 per core, at least 64)"
        for workers in [0, -1, maxWorkers + 1, 1_000_000_000] {
            assertDataError(try DataLoader(dataset: ds, pipeline: pipeline, options: LoaderOptions(workers: workers)),
                            contains: ["workers must be \(limit), got \(workers)"])
        }
        for batch in [0, -5, 65_537, Int.max] {
            assertDataError(try DataLoader(dataset: ds, pipeline: pipeline, options: LoaderOptions(batchSize: batch, workers: 1)),
                            contains: ["batch size must be between 1 and 65536, got \(batch)"])
        }
        assertDataError(try DataLoader(dataset: ds, pipeline: pipeline, options: LoaderOptions(workers: 1, prefetch: Int.max)),
                        contains: ["prefetch must be between 0 (automatic) and 1024 batches"])
        let edge = try DataLoader(dataset: ds, pipeline: pipeline, options: LoaderOptions(batchSize: 65_536, workers: maxWorkers))
        XCTAssertEqual(edge.batchesPerEpoch, 1)
        XCTAssertEqual(try epochBatches(edge, 0).map(\.count), [10])
        let splits = try BuiltinSplits.make(trainAndValidation: ds, test: ds, seed: 0, name: "mem")
        assertDataError(try DatasetExporter.export(splits, to: TempDir().path, workers: 0), contains: ["--workers must be \(limit), got 0"])
    }

    func testFolderDatasetNeedsAFixedOutputSize() throws {
        let dir = TempDir()
        dir.write("a/0.png", try PNGCodec.encode(PixelImage(width: 4, height: 4, channels: 3)))
        let splits = try DatasetSplits.openFolder(dir.path, ratios: [1, 0, 0])
        assertDataError(try DataLoader(dataset: splits.train, pipeline: ImagePipeline()), contains: ["add a resize"])
        assertDataError(try DataLoader(dataset: splits.train, pipeline: ImagePipeline.keras(height: 2, width: 2),
                                       options: LoaderOptions(batchSize: 0)), contains: ["batch size must be between 1 and 65536, got 0"])
        let loader = try DataLoader(dataset: splits.train, pipeline: ImagePipeline.keras(height: 2, width: 3))
        let batch = try XCTUnwrap(try loader.epoch(0).next())
        XCTAssertEqual([batch.count, batch.height, batch.width, batch.channels], [1, 2, 3, 3])
    }
}
