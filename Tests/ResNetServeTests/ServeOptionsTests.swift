@testable import ResNetServe
import ResNetTraining
import XCTest

/// Options and model names: each bad value names its option and limit before anything loads.
final class ServeOptionsTests: XCTestCase {
    func testEachOptionOutOfRangeIsNamed() {
        let cases: [(ServeOptions, String)] = [
            (ServeOptions(port: 70000), "--port"), (ServeOptions(port: -1), "--port"), (ServeOptions(host: ""), "--host"),
            (ServeOptions(maxBatch: 0), "--max-batch"), (ServeOptions(maxBatch: 5000), "--max-batch"),
            (ServeOptions(maxDelayMilliseconds: .nan), "--max-delay-ms"), (ServeOptions(maxDelayMilliseconds: -1), "--max-delay-ms"),
            (ServeOptions(maxDelayMilliseconds: 1e9), "--max-delay-ms"), (ServeOptions(queueLimit: 0), "--queue-limit"),
            (ServeOptions(maxBodyBytes: 0), "--max-body-bytes"), (ServeOptions(maxPixels: 0), "--max-pixels"),
            (ServeOptions(maxPixels: Int.max), "--max-pixels"),
        ]
        for (options, name) in cases {
            XCTAssertThrowsError(try options.validate(), name) { XCTAssertTrue("\($0)".hasPrefix(name), "\($0)") }
        }
        XCTAssertNoThrow(try ServeOptions().validate())
        XCTAssertEqual(ServeOptions(maxBatch: 16).queueLimit, 128, "the queue holds eight batches by default")
    }

    func testModelNamesFromRunsAndNameEqualsRun() throws {
        XCTAssertEqual(try ModelSpec.checkpoint(argument: "/tmp/runs/cifar-r20"), ModelSpec(name: "cifar-r20", source: .checkpoint("/tmp/runs/cifar-r20")))
        XCTAssertEqual(try ModelSpec.checkpoint(argument: "/tmp/runs/r50/best.safetensors").name, "r50")
        XCTAssertEqual(try ModelSpec.checkpoint(argument: "prod=/tmp/runs/r50"), ModelSpec(name: "prod", source: .checkpoint("/tmp/runs/r50")))
        let published = PublishedWeights(model: "resnet50", weights: "w.safetensors")
        XCTAssertEqual(try ModelSpec.published(published), ModelSpec(name: "resnet50", source: .published(published)),
                       "published weights are served under the registry name")
        for bad in ["a b=/x", "=/x", "../x=/y", "né=/x"] {
            XCTAssertThrowsError(try ModelSpec.checkpoint(argument: bad), bad) { XCTAssertTrue("\($0)".contains("model name"), "\($0)") }
        }
    }
}
