import Foundation
import XCTest
@testable import ResNetData
#if canImport(Glibc)
import Glibc
#endif

/// Reading paths that are not regular files: FIFOs used to hang forever and /dev/zero to read
/// until allocation failed. Every read here runs under `withoutHanging`, so a regression
/// fails the test instead of hanging the suite.
final class FileIOTests: XCTestCase {
    /// Runs `body` on a background thread and returns its error; fails (rather than waits
    /// forever) when it has not finished after `limit` seconds. This is a hang guard, not a
    /// timing assertion: the reads take microseconds when they work.
    private func errorWithoutHanging(_ what: String, limit: Double = 10, file: StaticString = #filePath, line: UInt = #line,
                                     _ body: @escaping @Sendable () throws -> Void) -> DataError? {
        final class Box: @unchecked Sendable { var error: Error? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread {
            do { try body() } catch { box.error = error }
            done.signal()
        }.start()
        guard done.wait(timeout: .now() + limit) == .success else {
            XCTFail("\(what) did not return within \(limit) s (it blocks)", file: file, line: line)
            return nil
        }
        guard let error = box.error as? DataError else {
            XCTFail("\(what): expected a DataError, got \(String(describing: box.error))", file: file, line: line)
            return nil
        }
        return error
    }

    private func makeFIFO(_ dir: TempDir, _ name: String) throws -> String {
        let path = dir.path + "/" + name
        guard mkfifo(path, 0o644) == 0 else { throw XCTSkip("mkfifo failed: \(String(cString: strerror(errno)))") }
        addTeardownBlock {
            // Releases a reader a regression left blocked in open(): a writer that opens and closes gives it EOF.
            let fd = open(path, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        return path
    }

    func testFIFOIsRefusedWithoutBlockingByEveryReader() throws {
        let dir = TempDir()
        let fifo = try makeFIFO(dir, "image.png")
        let expected = "cannot read \(fifo): is a FIFO, not a regular file"
        XCTAssertEqual(errorWithoutHanging("FileIO.read") { _ = try FileIO.read(fifo) }?.description, expected)
        XCTAssertEqual(errorWithoutHanging("ImageDecoder.decode") { _ = try ImageDecoder.decode(file: fifo, channels: 3) }?.description, expected)
        XCTAssertEqual(errorWithoutHanging("IDXFile.read") { _ = try IDXFile.read(path: fifo, expectedDimensions: 1) }?.description, expected)
        XCTAssertEqual(errorWithoutHanging("CIFAR10.load") { _ = try CIFAR10.load(files: [fifo], name: "t") }?.description, expected)
    }

    func testDeviceBehindASymlinkIsRefusedBeforeReading() throws {
        let dir = TempDir()
        let link = dir.path + "/zero.png"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/dev/zero")
        XCTAssertEqual(errorWithoutHanging("FileIO.read") { _ = try FileIO.read(link) }?.description,
                       "cannot read \(link): is a character device, not a regular file")
        XCTAssertEqual(errorWithoutHanging("FileIO.read") { _ = try FileIO.read(dir.path) }?.description,
                       "cannot read \(dir.path): is a directory, not a regular file")
    }

    func testFilesOverTheLimitAreRefusedNamingTheLimit() throws {
        let dir = TempDir()
        let path = dir.write("big.bin", [UInt8](repeating: 7, count: 2048))
        assertDataError(try FileIO.read(path, maxBytes: 1024), contains: ["cannot read \(path)", "is 2048 bytes", "1024-byte limit"])
        XCTAssertEqual(try FileIO.read(path, maxBytes: 2048).count, 2048)
        XCTAssertEqual(FileIO.byteText(FileIO.maxReadBytes), "1 GiB")
    }

    /// A FIFO among the images is skipped by the loader like any unreadable image.
    func testFIFOInAClassFolderIsSkippedByTheLoader() throws {
        let dir = TempDir()
        for i in 0..<3 { dir.write("a/\(i).png", try PNGCodec.encode(PixelImage(width: 2, height: 2, channels: 3, fill: UInt8(i)))) }
        let fifo = try makeFIFO(dir, "a/1b.png")
        let splits = try DatasetSplits.openFolder(dir.path, ratios: [1, 0, 0])
        XCTAssertEqual(splits.train.count, 4)
        let loader = try DataLoader(dataset: splits.train, pipeline: .keras(height: 2, width: 2),
                                    options: LoaderOptions(batchSize: 2, shuffle: false, workers: 1))
        loader.warningHandler = { _ in }
        final class Box: @unchecked Sendable { var statistics: EpochStatistics?; var images = 0 }
        let box = Box()
        _ = errorWithoutHanging("an epoch over a folder with a FIFO") {
            let it = loader.epoch(0)
            while let b = try it.next() { box.images += b.count }
            box.statistics = it.statistics
            throw DataError.invalidArgument("done")
        }
        XCTAssertEqual(box.images, 3)
        XCTAssertEqual(box.statistics?.skipped.map(\.source), [fifo])
        XCTAssertEqual(box.statistics?.skipped.first?.reason, "cannot read \(fifo): is a FIFO, not a regular file")
    }
}
