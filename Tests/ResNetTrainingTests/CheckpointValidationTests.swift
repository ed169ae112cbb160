import Foundation
@testable import ResNetTraining
import XCTest

/// Every field of a hand-edited `checkpoint.json` that once crashed `predict`/`evaluate`/`--resume`
/// or gave a silently wrong result is refused before a model is built, naming the file and field.
final class CheckpointValidationTests: TrainerTestCase {
    private var run: RunDirectory!
    private var good: [String: Any]!

    override func setUpWithError() throws {
        try super.setUpWithError()
        run = try committedRun().run
        good = try JSONSerialization.jsonObject(with: Data(contentsOf: run.info)) as? [String: Any]
    }

    /// Writes checkpoint.json with `edit` applied to the good one, then expects every reader to
    /// refuse it with a message holding the file's path and each of `parts`.
    private func assertRefused(_ parts: [String], line: UInt = #line, _ edit: (inout [String: Any]) -> Void) throws {
        var json: [String: Any] = good
        edit(&json)
        try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]).write(to: run.info)
        let readers: [(String, () throws -> Any)] = [
            ("loadInfo", { try self.run.loadInfo() }),
            ("predict", { try Predictor(checkpoint: self.run.url.path) }),
            ("resume", { try Trainer.resume(runDirectory: self.run.url.path, say: { _ in }) }),
        ]
        for (name, read) in readers {
            XCTAssertThrowsError(try read(), name, line: line) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(run.info.path), "\(name): \(message)", line: line)
                for part in parts { XCTAssertTrue(message.contains(part), "\(name): '\(part)' not in: \(message)", line: line) }
            }
        }
    }

    private func nested(_ json: inout [String: Any], _ key: String, _ field: String, _ value: Any) {
        var inner = json[key] as! [String: Any]
        inner[field] = value
        json[key] = inner
    }

    func testTheGoodFileLoads() throws {
        XCTAssertNoThrow(try run.loadInfo())
        XCTAssertNoThrow(try Predictor(checkpoint: run.url.path))
    }

    func testClassNamesMustMatchTheClassifier() throws {
        try assertRefused(["classNames", "2 names", "numClasses is 3"]) { $0["classNames"] = ["a", "b"] }
    }

    /// JSON and class names agree on 4 classes, the weights hold 3: a checkpoint's head must fit
    /// (it was silently re-initialised at random before).
    func testAClassCountThatDisagreesWithTheWeightsIsRefusedNotReinitialised() throws {
        var json: [String: Any] = good
        json["classNames"] = ["a", "b", "c", "d"]
        nested(&json, "modelConfig", "numClasses", 4)
        try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]).write(to: run.info)
        XCTAssertThrowsError(try Predictor(checkpoint: run.url.path)) { error in
            XCTAssertTrue("\(error)".contains("checkpoint-epoch1.safetensors: key 'fc.weight' has shape [3, 64], resnet20 expects [4, 64]"), "\(error)")
        }
    }

    func testHugeClassCounts() throws {
        try assertRefused(["numClasses", "100000"]) { json in
            json["classNames"] = ["x"]
            nested(&json, "modelConfig", "numClasses", 1_000_000_000)
        }
    }

    func testNegativeStageWidths() throws {
        try assertRefused(["stageWidths"]) { nested(&$0, "modelConfig", "stageWidths", [-16, 32, 64]) }
    }

    func testNonPositiveBatchNormEpsilon() throws {
        try assertRefused(["batchNormEpsilon"]) { nested(&$0, "modelConfig", "batchNormEpsilon", -1) }
    }

    func testPreprocessingChannelsMustFeedTheModel() throws {
        try assertRefused(["preprocessing.channels", "inputChannels is 3"]) { nested(&$0, "preprocessing", "channels", 1) }
    }

    func testHugePreprocessingSize() throws {
        try assertRefused(["preprocessing.height", "1024"]) { nested(&$0, "preprocessing", "height", 10_000_000) }
    }

    func testNonFiniteSplitRatios() throws {
        try assertRefused(["--split"]) { nested(&$0, "settings", "splitRatios", ["inf", 1, 1]) }
        try assertRefused(["--split"]) { nested(&$0, "settings", "splitRatios", [1e308, 1e308, 1]) }
    }

    func testFileNamesStayInsideTheRunDirectory() throws {
        try assertRefused(["weightsFile", "inside the run directory"]) { $0["weightsFile"] = "../../etc/passwd.safetensors" }
        try assertRefused(["optimizerStateFile"]) { $0["optimizerStateFile"] = "/tmp/x.safetensors" }
    }

    func testBestEpochMustBeARecordedEpoch() throws {
        try assertRefused(["bestEpoch", "is 5"]) { $0["bestEpoch"] = 5 }
    }

    func testPlateauStateMustBeFiniteCounts() throws {
        try assertRefused(["plateau.bad_epochs"]) {
            $0["plateau"] = ["learning_rate": 0.1, "best": 0.5, "bad_epochs": "nan", "cooldown_remaining": 0]
        }
        try assertRefused(["plateau.learning_rate"]) {
            $0["plateau"] = ["learning_rate": "inf", "best": 0.5, "bad_epochs": 0, "cooldown_remaining": 0]
        }
    }

    func testAStepCountThatWouldOverflowIsRefused() throws {
        try assertRefused(["field step"]) { $0["step"] = Int.max }
    }

    func testABestFileNeedsABestEpoch() throws {
        try assertRefused(["bestFile", "bestEpoch is missing"]) { $0.removeValue(forKey: "bestEpoch") }
    }

    func testAMissingFieldIsNamed() throws {
        try assertRefused(["modelConfig", "missing field"]) { $0.removeValue(forKey: "modelConfig") }
    }

    /// A resumed run keeps its preprocessing: an edited block is refused, not silently ignored.
    func testResumeRefusesAnEditedPreprocessing() throws {
        var json: [String: Any] = good
        nested(&json, "preprocessing", "rescale", 0.5)
        try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]).write(to: run.info)
        XCTAssertNoThrow(try run.loadInfo(), "the file itself is valid")
        XCTAssertThrowsError(try Trainer.resume(runDirectory: run.url.path, epochs: 2, say: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("field preprocessing"), "\(error)")
        }
    }
}
