import Foundation
import ResNetTraining
import XCTest

/// `mpirun -np 2 resnet train` end to end on the built tool: synchronized data-parallel training
/// equals one process with the global batch, runs repeat bit for bit, and resume is exact.
/// Needs the debug build's `resnet` (make test builds it first) and Open MPI's `mpirun`.
final class DistributedTrainingTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tool = packageRoot.appendingPathComponent(".build/debug/resnet").path
    static let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    /// Loopback only: shared memory between the ranks, TCP on lo for the launcher; root allowed (CI).
    static let mpirunOptions = ["--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader",
                                "--mca", "btl_vader_single_copy_mechanism", "none", "--mca", "oob_tcp_if_include", "lo"]

    var work: URL!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.tool) else { throw XCTSkip("no \(Self.tool): build the tool first (make test does)") }
        guard Self.mpirun != nil else { throw XCTSkip("mpirun not found: install openmpi-bin (make deps)") }
        work = FileManager.default.temporaryDirectory.appendingPathComponent("resnet-mpi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try makeDataset(at: work.appendingPathComponent("D"))
    }

    override func tearDownWithError() throws {
        if let work { try? FileManager.default.removeItem(at: work) }
    }

    /// 2 classes x 40 seeded-noise 8x8 gray images in root/train/<class>: 80 training images,
    /// 5 steps of a global batch of 16.
    func makeDataset(at root: URL) throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for c in ["a", "b"] {
            let dir = root.appendingPathComponent("train/\(c)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for i in 0..<40 {
                var bytes = Array("P5\n8 8\n255\n".utf8)
                for _ in 0..<64 {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    bytes.append(UInt8(truncatingIfNeeded: state >> 56) / (c == "a" ? 2 : 1))
                }
                try Data(bytes).write(to: dir.appendingPathComponent("\(i).pgm"))
            }
        }
    }

    /// Runs the tool (under mpirun with `ranks`), failing the test on a non-zero exit.
    @discardableResult
    func train(ranks: Int?, _ arguments: [String]) throws -> String {
        let process = Process()
        // A resumed run takes its data and settings from its directory.
        let common = ["train", "--threads", "1"] + (arguments.contains("--resume") ? []
            : ["--data", work.appendingPathComponent("D").path, "--image-size", "8", "--workers", "1"])
        if let ranks {
            process.executableURL = URL(fileURLWithPath: Self.mpirun!)
            process.arguments = Self.mpirunOptions + ["-np", "\(ranks)", Self.tool] + common + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: Self.tool)
            process.arguments = common + arguments
        }
        process.currentDirectoryURL = work
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "resnet \(arguments.joined(separator: " ")) on \(ranks ?? 1) rank(s):\n\(text)")
        return text
    }

    func weights(_ run: String) throws -> [String: [Float]] {
        let dir = RunDirectory(work.appendingPathComponent(run).path)
        return try dir.loadTensors(.weights, info: try dir.loadInfo()).mapValues { $0.toArray() }
    }

    func weightsFile(_ run: String) throws -> Data {
        let dir = RunDirectory(work.appendingPathComponent(run).path)
        return try Data(contentsOf: dir.committedFile(.weights, info: try dir.loadInfo())!)
    }

    /// The issue's check: with --sync-bn, 2 ranks x batch 8 train as 1 process x batch 16 (5 steps of
    /// resnet20, SGD with momentum), every parameter and buffer within 1e-5 of its largest value.
    /// Measured 2026-12-07: the worst relative difference is printed on every run.
    func testTwoRanksWithSyncBNMatchOneProcessWithTheGlobalBatch() throws {
        let common = ["--epochs", "1", "--lr", "0.05", "--schedule", "constant"]
        try train(ranks: nil, common + ["--batch-size", "16", "--out", "single"])
        let log = try train(ranks: 2, common + ["--batch-size", "8", "--sync-bn", "--out", "two"])
        XCTAssertTrue(log.contains("batch 8 per rank x 2 ranks = global batch 16"), log)
        let (a, b) = (try weights("single"), try weights("two"))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        var worst = 0.0, worstName = ""
        for (name, p) in a {
            let q = b[name]!
            let scale = Double(max(p.map(abs).max() ?? 0, 1e-6))
            let diff = Double(zip(p, q).map { abs($0 - $1) }.max() ?? 0) / scale
            if diff > worst { (worst, worstName) = (diff, name) }
        }
        print("2 ranks x 8 with --sync-bn vs 1 x 16 after 5 steps: worst relative difference \(worst) (\(worstName))")
        XCTAssertLessThan(worst, 1e-5, worstName)
        // Without --sync-bn each rank normalizes by its own 8 images: measurably different.
        try train(ranks: 2, common + ["--batch-size", "8", "--out", "unsynced"])
        let c = try weights("unsynced")
        XCTAssertGreaterThan(a.keys.map { name in zip(a[name]!, c[name]!).map { abs($0 - $1) }.max() ?? 0 }.max()!, 1e-4)
    }

    /// Same seed, same world size: bit-identical weights; and 1 epoch then --resume to 2 equals 2 straight.
    func testTwoRankRunsAreBitIdenticalAndResumeExactly() throws {
        // A constant rate: a cosine schedule would be laid over --epochs 1, then 2.
        let common = ["--batch-size", "8", "--lr", "0.05", "--seed", "3", "--schedule", "constant"]
        try train(ranks: 2, common + ["--epochs", "2", "--out", "first"])
        try train(ranks: 2, common + ["--epochs", "2", "--out", "second"])
        XCTAssertEqual(try weightsFile("first"), try weightsFile("second"), "two 2-rank runs with the same seed differ")
        try train(ranks: 2, common + ["--epochs", "1", "--out", "resumed"])
        try train(ranks: 2, ["--resume", work.appendingPathComponent("resumed").path, "--epochs", "2"])
        XCTAssertEqual(try weightsFile("first"), try weightsFile("resumed"), "a resumed 2-rank run differs from an uninterrupted one")
        let note = try train(ranks: nil, ["--resume", work.appendingPathComponent("resumed").path, "--epochs", "3"])
        XCTAssertTrue(note.contains("trained by 2 process(es) and resumes with 1"), note)
    }
}
