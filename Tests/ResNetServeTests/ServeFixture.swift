import Foundation
import ResNetData
@testable import ResNetServe
import ResNetTraining
import XCTest

/// What the server tests share, made once per test process: a tiny dataset (3 classes of 12x12
/// images), two resnet20 runs trained on it for one epoch with different seeds, and test images in
/// every format the server decodes (PNG, JPEG, PPM) with the predictor's own answers for them.
final class ServeFixture: @unchecked Sendable {
    let directory: URL
    let runA: String
    let runB: String
    /// Test images: file path and bytes.
    let images: [(path: String, bytes: [UInt8])]

    static let shared: Result<ServeFixture, Error> = Result { try ServeFixture() }

    private init() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serve-tests-\(getpid())-\(UUID().uuidString)")
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let data = directory.appendingPathComponent("data")
        var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
        func noise() -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int(rng >> 58)  // 0..<64
        }
        let side = 12
        var pictures: [PixelImage] = []
        for c in 0..<3 {
            let folder = data.appendingPathComponent("class\(c)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<10 {
                var pixels = [UInt8](repeating: 0, count: side * side * 3)
                for y in 0..<side {
                    for x in 0..<side {
                        for ch in 0..<3 {
                            let stripe = ((c == 0 ? x : c == 1 ? y : x + y) / 2 % 2) * 60
                            pixels[(y * side + x) * 3 + ch] = UInt8(min(255, (ch == c ? 130 : 30) + stripe + noise()))
                        }
                    }
                }
                let image = PixelImage(width: side, height: side, channels: 3, pixels: pixels)
                try PNGCodec.write(image, to: folder.appendingPathComponent("\(i).png").path)
                if i < 3 { pictures.append(image) }
            }
        }
        func train(_ name: String, seed: UInt64) throws -> String {
            var s = TrainingSettings()
            s.model = "resnet20"
            s.data = data.path
            s.splitRatios = [8, 1, 1]
            s.imageSize = 12
            s.batchSize = 8
            s.workers = 1
            s.optimizer = "sgd"
            s.learningRate = 0.05
            s.epochs = 1
            s.seed = seed
            let dir = directory.appendingPathComponent(name).path
            _ = try Trainer.start(s, runDirectory: dir, say: { _ in }).fit()
            return dir
        }
        runA = try train("alpha", seed: 1)
        runB = try train("beta", seed: 2)

        // Nine pictures, each in one of three formats; JPEG and PPM at a different size, so
        // preprocessing resizes some of them.
        let samples = directory.appendingPathComponent("samples")
        try FileManager.default.createDirectory(at: samples, withIntermediateDirectories: true)
        var images: [(String, [UInt8])] = []
        for (i, picture) in pictures.enumerated() {
            let (ext, bytes): (String, [UInt8])
            switch i % 3 {
            case 0: (ext, bytes) = ("png", try PNGCodec.encode(picture))
            case 1: (ext, bytes) = ("jpg", try JPEGCodec.encode(picture, quality: 90))
            default: (ext, bytes) = ("ppm", try PNMCodec.encode(picture))
            }
            let path = samples.appendingPathComponent("\(i).\(ext)").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            images.append((path, bytes))
        }
        self.images = images
    }
}

/// A server started in this process on a free port, stopped (gracefully) by `stop()`.
final class RunningServer: @unchecked Sendable {
    let server: InferenceServer
    let port: Int
    private let finished = DispatchSemaphore(value: 0)
    private let runError = ResultBox<Void>()

    init(models: [ModelSpec], options: ServeOptions) throws {
        var options = options
        options.port = 0
        server = try InferenceServer(models: models, options: options)
        let listening = DispatchSemaphore(value: 0)
        let portBox = PortBox()
        let server = self.server, finished = self.finished, runError = self.runError
        Task {
            do {
                try await server.run(handleSignals: false, logLevel: .error) { port in portBox.port = port; listening.signal() }
                runError.result = .success(())
            } catch {
                runError.result = .failure(error)
                listening.signal()
            }
            finished.signal()
        }
        guard listening.wait(timeout: .now() + 60) == .success, portBox.port > 0 else {
            throw HTTPTestClient.Failure.connect("the server did not start: \(runError.result.map { "\($0)" } ?? "timeout")")
        }
        port = portBox.port
    }

    var client: HTTPTestClient { HTTPTestClient(port: port) }

    /// Starts the graceful shutdown and waits for `run` to return (every request answered).
    func stop() {
        let server = self.server
        Task { await server.shutdown() }
        XCTAssertEqual(finished.wait(timeout: .now() + 120), .success, "the server stopped")
        if case .failure(let error)? = runError.result { XCTFail("run ended with \(error)") }
    }

    /// A metric's value from /metrics: the first sample whose line starts with `prefix` (name and labels).
    func metric(_ prefix: String) throws -> Double? {
        let text = try client.get("/metrics").text
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        return nil
    }
}

private final class PortBox: @unchecked Sendable { var port = 0 }
