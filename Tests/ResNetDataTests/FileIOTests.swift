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

    /// Missing files, folders where files should be, full disks and unlistable folders: each
    /// error names the path and the OS's reason (FileManager's errors said only "cannot list
    /// folder" / "cannot create folder").
    func testIOErrorsNameThePathAndTheOSReason() throws {
        let dir = TempDir()
        XCTAssertEqual(errorWithoutHanging("read") { _ = try FileIO.read(dir.path + "/none.png") }?.description, "file not found: \(dir.path)/none.png")
        assertDataError(try FileIO.write([1, 2, 3], to: "/dev/full"), contains: ["cannot write /dev/full: No space left on device"])
        assertDataError(try FileIO.write([1], to: dir.path + "/missing/x.png"), contains: ["cannot write \(dir.path)/missing/x.png: No such file or directory"])
        assertDataError(try FileIO.write([1], to: dir.path), contains: ["cannot write \(dir.path): Is a directory"])
        let fifo = try makeFIFO(dir, "out.png")
        XCTAssertEqual(errorWithoutHanging("write to a FIFO") { try FileIO.write([1], to: fifo) }?.description,
                       "cannot write \(fifo): No such device or address")
        let file = dir.write("file", [1])
        assertDataError(try FileIO.makeDirectories(file + "/sub"), contains: ["cannot write \(file): exists and is not a folder"])
        assertDataError(try FileIO.listDirectory(file), contains: ["cannot read \(file): cannot list folder: Not a directory"])
        assertDataError(try FileIO.listDirectory(dir.path + "/nope"), contains: ["folder not found: \(dir.path)/nope"])
        try FileIO.makeDirectories(dir.path + "/a/b/c")
        XCTAssertEqual(try FileIO.listDirectory(dir.path + "/a"), ["b"])
        XCTAssertEqual(try FileIO.listDirectory(dir.path).sorted(), ["a", "file", "out.png"])

        // Export: split and class folders that cannot be made name the path and the reason.
        let storage = InMemoryDataset.Storage(pixels: [1, 2, 3, 4], labels: [0, 0, 0, 0], height: 1, width: 1, channels: 1, name: "mem")
        let ds = InMemoryDataset(storage: storage, classNames: ["a"])
        let splits = DatasetSplits(classNames: ["a"], train: ds, validation: nil, test: nil, layout: "mem")
        let out = dir.path + "/out"
        dir.write("out/train", [1])
        assertDataError(try DatasetExporter.export(splits, to: out, overwrite: true), contains: ["cannot write \(out)/train: exists and is not a folder"])
        assertDataError(try DatasetExporter.export(splits, to: out), contains: ["bad dataset layout at \(out)/train: is a file, expected a folder"])
        assertDataError(try PNGCodec.write(PixelImage(width: 1, height: 1, channels: 1), to: "/dev/full"), contains: ["cannot write /dev/full: No space left on device"])
    }

    /// IDX headers name the field and the limit before anything is allocated; gzip bombs stop at the limit.
    func testIDXDimensionsAndDecompressionAreBounded() throws {
        let header = IDXFile.encode(dimensions: [1, 65536, 65536], data: [])
        assertDataError(try IDXFile.parse(header, expectedDimensions: 3, source: "x.idx"),
                        contains: ["bad data file x.idx: dimension 2 (columns) is 65536", "2 GiB limit"])
        assertDataError(try IDXFile.parse(IDXFile.encode(dimensions: [3, 0, 2], data: []), expectedDimensions: 3, source: "x.idx"),
                        contains: ["dimension 1 (rows) has size 0"])
        let bomb = Gzip.compress([UInt8](repeating: 0, count: 1 << 20))
        assertDataError(try Gzip.decompress(bomb, source: "b.gz", maxOutput: 1000), contains: ["bad data file b.gz: decompresses to more than the 1000-byte limit"])
        XCTAssertEqual(try Gzip.decompress(bomb, source: "b.gz", maxOutput: 1 << 20).count, 1 << 20)
    }
}
