import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import ResNetTraining
import XCTest

/// What the trainer tests share: a temporary directory per test, a tiny made-up dataset (3 classes
/// of 12x12 RGB PNGs), the settings that train on it in seconds, and checks on run directories.
class TrainerTestCase: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("trainer-tests-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A run of `epochs` epochs on a fresh dataset, committed in `path("run")`.
    func committedRun(epochs: Int = 1) throws -> (data: String, dir: String, run: RunDirectory) {
        let data = try makeDataset("data")
        let dir = path("run")
        try Trainer.start(settings(data: data, epochs: epochs), runDirectory: dir, say: { _ in }).fit()
        return (data, dir, RunDirectory(dir))
    }

    /// The shared settings: resnet20 at 12x12, batch 8, 2 workers, shifts and flips, SGD with
    /// Nesterov momentum and a cosine schedule.
    func settings(data: String, epochs: Int) -> TrainingSettings {
        var s = TrainingSettings()
        s.model = "resnet20"
        s.data = data
        s.imageSize = 12
        s.batchSize = 8
        s.workers = 2
        s.widthShiftRange = 0.1
        s.heightShiftRange = 0.1
        s.horizontalFlip = true
        s.optimizer = "sgd"
        s.momentum = 0.9
        s.learningRate = 0.05
        s.schedule = "cosine"
        s.epochs = epochs
        s.seed = 42
        return s
    }

    /// DIR/{train,validation,test}/<class>/<i>.png: 3 classes, 8/2/2 images each, 12x12 RGB. Class
    /// c has a bright channel c and a stripe pattern of its own, plus noise; with `identical`
    /// every image is the same noise picture.
    func makeDataset(_ name: String, identical: Bool = false) throws -> String {
        let root = directory.appendingPathComponent(name)
        var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
        func noise() -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int(rng >> 59)  // 0..<32
        }
        let side = 12
        for (split, count) in [("train", 8), ("validation", 2), ("test", 2)] {
            for c in 0..<3 {
                let folder = root.appendingPathComponent(split).appendingPathComponent("class\(c)")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                for i in 0..<count {
                    var pixels = [UInt8](repeating: 0, count: side * side * 3)
                    if identical { rng = 12345 }
                    for y in 0..<side {
                        for x in 0..<side {
                            for ch in 0..<3 {
                                let stripe = identical ? 0 : ((c == 0 ? x : c == 1 ? y : x + y) / 2 % 2) * 60
                                let base = identical ? 100 : (ch == c ? 150 : 40)
                                pixels[(y * side + x) * 3 + ch] = UInt8(min(255, base + stripe + noise()))
                            }
                        }
                    }
                    try PNGCodec.write(PixelImage(width: side, height: side, channels: 3, pixels: pixels),
                                       to: folder.appendingPathComponent("\(i).png").path)
                }
            }
        }
        return root.path
    }

    func model(_ name: String, seed: UInt64, classes: Int = 1000) throws -> ResNet {
        var config = try ResNetRegistry.config(name)
        config.numClasses = classes
        config.seed = seed
        return try ResNet(config)
    }

    /// Every tensor of `file` in both run directories has the same dtype, shape and bytes.
    func assertSameTensors(_ a: String, _ b: String, _ file: String,
                                   line: UInt = #line) {
        do {
            let fa = try SafeTensors.read(URL(fileURLWithPath: a).appendingPathComponent(file))
            let fb = try SafeTensors.read(URL(fileURLWithPath: b).appendingPathComponent(file))
            XCTAssertEqual(fa.metadata, fb.metadata, file, line: line)
            XCTAssertEqual(fa.names, fb.names, file, line: line)
            XCTAssertFalse(fa.names.isEmpty, line: line)
            var differing: [String] = []
            for name in fa.names where fb.entries[name] != nil {
                XCTAssertEqual(fa.entries[name], fb.entries[name], "\(file) \(name)", line: line)
                if try fa.rawBytes(name) != fb.rawBytes(name) {
                    let x = try fa.tensor(name).toArray(), y = try fb.tensor(name).toArray()
                    let diff = zip(x, y).map { abs($0 - $1) }.max() ?? 0
                    differing.append("\(name) (max |diff| \(diff))")
                }
            }
            XCTAssertEqual(differing, [], "\(file): tensors not bit-identical", line: line)
        } catch {
            XCTFail("\(file): \(error)", line: line)
        }
    }

    /// history.csv's rows without the wall-clock `time` column, which differs from run to run.
    func historyRows(_ dir: String) throws -> [String] {
        let text = try String(contentsOf: RunDirectory(dir).historyCSV, encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else { return [] }
        let time = header.firstIndex(of: "time")
        XCTAssertNotNil(time, "history.csv has a time column")
        return lines.dropFirst().map { row in row.enumerated().filter { $0.offset != time }.map(\.element).joined(separator: ",") }
    }

    func assertSameHistory(_ a: String, _ b: String, rows: Int, line: UInt = #line) throws {
        let ra = try historyRows(a), rb = try historyRows(b)
        XCTAssertEqual(ra.count, rows, line: line)
        XCTAssertEqual(rb, ra, "history.csv rows", line: line)
        let ha = try String(contentsOf: RunDirectory(a).historyCSV, encoding: .utf8)
        let hb = try String(contentsOf: RunDirectory(b).historyCSV, encoding: .utf8)
        XCTAssertEqual(ha.split(separator: "\n").first, hb.split(separator: "\n").first, "header", line: line)
    }

    /// The bytes of the committed checkpoint files.
    /// The committed files as the JSON names them, and the fixed-name links, by name.
    func snapshot(_ run: RunDirectory, includingInfo: Bool = true) throws -> [String: Data] {
        let info = try run.loadInfo()
        var files = RunDirectory.Role.allCases.compactMap { run.committedFile($0, info: info) } + [run.weights]
        if info.bestEpoch != nil { files.append(run.best) }
        if includingInfo { files.append(run.info) }
        return Dictionary(try files.map { ($0.lastPathComponent, try Data(contentsOf: $0)) }, uniquingKeysWith: { a, _ in a })
    }

    /// The names in the run directory, sorted (hidden ones included).
    func listing(_ run: RunDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: run.url.path).sorted()
    }

    /// Makes the next save of `role` for `epoch` fail as a full disk would: a directory where its
    /// temporary file must be created. Returns the blocker, to remove when the "disk" has room.
    @discardableResult
    func block(_ run: RunDirectory, _ role: RunDirectory.Role, epoch: Int) throws -> URL {
        try block(run.file(RunDirectory.epochFileName(role, epoch: epoch)))
    }

    @discardableResult
    func block(_ file: URL) throws -> URL {
        let blocker = AtomicFile.temporaryURL(for: file)
        try FileManager.default.createDirectory(at: blocker, withIntermediateDirectories: false)
        try Data("x".utf8).write(to: blocker.appendingPathComponent("keep"))
        return blocker
    }

    /// A PID no process has now.
    func deadPID() -> Int32 {
        var pid: Int32 = 4_000_000
        while kill(pid, 0) == 0 || errno != ESRCH { pid -= 1 }
        return pid
    }

    func assertWeightsError(_ body: @autoclosure () throws -> Any, contains parts: [String], line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { error in
            guard case TrainingError.weights(let message) = error else { return XCTFail("\(error)", line: line) }
            for part in parts { XCTAssertTrue(message.contains(part), "'\(part)' not in: \(message)", line: line) }
        }
    }
}
