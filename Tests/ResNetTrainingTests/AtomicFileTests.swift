import Foundation
import ResNetEngine
@testable import ResNetTraining
import XCTest

/// AtomicFile: replacement is all or nothing, failures leave the old file and no temporary file,
/// and leftovers from a killed write do not get in the way of the next one.
final class AtomicFileTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("atomicfile-tests-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private struct Boom: Error {}

    private func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    func testWritesAndReplaces() throws {
        let url = directory.appendingPathComponent("state.bin")
        try AtomicFile.write(Data("first".utf8), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data("first".utf8))
        try AtomicFile.write(Data("second, longer".utf8), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data("second, longer".utf8))
        try AtomicFile.write(to: url) { handle in
            try handle.write(contentsOf: Data("a".utf8))
            try handle.write(contentsOf: Data("b".utf8))
        }
        XCTAssertEqual(try Data(contentsOf: url), Data("ab".utf8))
        XCTAssertEqual(try contents(), ["state.bin"], "no temporary file is left")
    }

    func testTemporaryNameIsHiddenWithPID() {
        let url = URL(fileURLWithPath: "/x/y/model.safetensors")
        XCTAssertEqual(AtomicFile.temporaryURL(for: url, pid: 42).path, "/x/y/.model.safetensors.tmp-42")
    }

    func testThrowingBodyLeavesOldFileAndNoTemporary() throws {
        let url = directory.appendingPathComponent("ckpt.safetensors")
        try AtomicFile.write(Data("good".utf8), to: url)
        XCTAssertThrowsError(try AtomicFile.write(to: url) { handle in
            try handle.write(contentsOf: Data("half a checkpoi".utf8))
            // The temporary file exists while the body runs, and the target is still the old one.
            XCTAssertTrue(FileManager.default.fileExists(atPath: AtomicFile.temporaryURL(for: url).path))
            XCTAssertEqual(try Data(contentsOf: url), Data("good".utf8))
            throw Boom()
        }) { XCTAssertTrue($0 is Boom) }
        XCTAssertEqual(try Data(contentsOf: url), Data("good".utf8))
        XCTAssertEqual(try contents(), ["ckpt.safetensors"])
        // A first-time write that fails creates nothing.
        let fresh = directory.appendingPathComponent("fresh.bin")
        XCTAssertThrowsError(try AtomicFile.write(to: fresh) { _ in throw Boom() })
        XCTAssertEqual(try contents(), ["ckpt.safetensors"])
    }

    func testLeftoverTemporaryFromKilledWriteIsHarmless() throws {
        let url = directory.appendingPathComponent("model.safetensors")
        let good: [String: Tensor] = ["w": Tensor(shape: [2], values: [1, 2]), "bn.num_batches_tracked": Tensor(scalar: 5)]
        try SafeTensors.write(good, to: url)
        let goodBytes = try Data(contentsOf: url)

        // A write killed mid-way leaves a truncated temporary (own PID) and one from a dead process.
        let ownLeftover = AtomicFile.temporaryURL(for: url)
        try goodBytes.prefix(goodBytes.count / 2).write(to: ownLeftover)
        let deadPID = try XCTUnwrap((Int32(4_000_000)..<Int32(4_100_000)).first { kill($0, 0) != 0 && errno == ESRCH })
        let deadLeftover = AtomicFile.temporaryURL(for: url, pid: deadPID)
        try Data([1, 2, 3]).write(to: deadLeftover)
        // A temporary of a process that is alive (pid 1) must not be touched.
        let liveLeftover = AtomicFile.temporaryURL(for: url, pid: 1)
        try Data([9]).write(to: liveLeftover)

        // The good file is still intact and readable.
        XCTAssertEqual(try SafeTensors.read(url).tensor("w").toArray(), [1, 2])
        // The truncated leftover is itself rejected as a safetensors file.
        XCTAssertThrowsError(try SafeTensors.read(ownLeftover))

        // The next write succeeds and cleans up.
        let next: [String: Tensor] = ["w": Tensor(shape: [3], values: [4, 5, 6]), "bn.num_batches_tracked": Tensor(scalar: 6)]
        try SafeTensors.write(next, to: url)
        let file = try SafeTensors.read(url)
        XCTAssertEqual(try file.tensor("w").toArray(), [4, 5, 6])
        XCTAssertEqual(try file.tensor("bn.num_batches_tracked").scalar, 6)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ownLeftover.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: deadLeftover.path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: liveLeftover.path))
    }

    func testCheckpointWriteFailingMidwayKeepsGoodFile() throws {
        let url = directory.appendingPathComponent("model.safetensors")
        try SafeTensors.write(["w": Tensor(shape: [2], values: [1, 2])], metadata: ["epoch": "1"], to: url)
        let goodBytes = try Data(contentsOf: url)
        // Half the body written, then an error (as a full disk would give).
        XCTAssertThrowsError(try AtomicFile.write(to: url) { handle in
            try handle.write(contentsOf: goodBytes.prefix(20))
            throw Boom()
        })
        XCTAssertEqual(try Data(contentsOf: url), goodBytes)
        XCTAssertEqual(try SafeTensors.read(url).metadata, ["epoch": "1"])
        XCTAssertEqual(try contents(), ["model.safetensors"])
    }

    func testMissingDirectoryThrowsAndCreatesNothing() {
        let url = directory.appendingPathComponent("no/such/dir/file.bin")
        XCTAssertThrowsError(try AtomicFile.write(Data([1]), to: url)) { error in
            guard let e = error as? AtomicFileError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.code, ENOENT)
            XCTAssertTrue(e.description.contains("no/such/dir"), e.description)
        }
    }

    func testConcurrentWritersOfOneTargetLeaveOneWholePayload() throws {
        let url = directory.appendingPathComponent("shared.bin")
        let payloads = (0..<8).map { i in Data(repeating: UInt8(i), count: 64 * 1024 + i) }
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: payloads.count) { i in
            do { try AtomicFile.write(payloads[i], to: url) } catch { failures.increment() }
        }
        XCTAssertEqual(failures.value, 0)
        XCTAssertTrue(payloads.contains(try Data(contentsOf: url)))
        XCTAssertEqual(try contents(), ["shared.bin"])
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
