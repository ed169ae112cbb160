import Foundation
import ResNetData
@testable import ResNetTraining
import XCTest

/// `--random-crop`, `--random-erasing`, `--randaugment` and `--color-jitter` in a run: only the
/// training split is augmented, and checkpoints written before the options existed still load.
final class TrainingAugmentationTests: TrainerTestCase {
    private func firstBatch(_ loader: ResNetData.DataLoader, epoch: Int = 0) throws -> [Float] {
        try XCTUnwrap(loader.epoch(epoch).next()).images
    }

    func testOnlyTheTrainingSplitIsAugmented() throws {
        let data = try makeDataset("data")
        var plain = settings(data: data, epochs: 1)
        plain.widthShiftRange = 0
        plain.heightShiftRange = 0
        plain.horizontalFlip = false
        var s = plain
        s.randomCrop = 2
        s.randomErasing = 0.5
        s.randAugment = [2, 9]
        s.colorJitter = [0.3]
        let augmented = try PreparedData(s), reference = try PreparedData(plain)
        XCTAssertEqual(augmented.train.pipeline.randomCropPadding, 2)
        XCTAssertEqual(augmented.train.pipeline.randomErasing.probability, 0.5)
        XCTAssertEqual(augmented.train.pipeline.randAugment, RandAugment(numOps: 2, magnitude: 9))
        XCTAssertEqual(augmented.train.pipeline.colorJitter, ColorJitter(brightness: 0.3))
        XCTAssertNotEqual(try firstBatch(augmented.train), try firstBatch(reference.train), "training batches are augmented")
        for (name, loader, plainLoader) in [("validation", augmented.validation, reference.validation), ("test", augmented.test, reference.test)] {
            let loader = try XCTUnwrap(loader), plainLoader = try XCTUnwrap(plainLoader)
            XCTAssertEqual(loader.pipeline.randomCropPadding, 0, name)
            XCTAssertTrue(loader.pipeline.randomErasing.isNone, name)
            XCTAssertTrue(loader.pipeline.randAugment.isNone, name)
            XCTAssertTrue(loader.pipeline.colorJitter.isNone, name)
            XCTAssertEqual(try firstBatch(loader, epoch: 3), try firstBatch(plainLoader, epoch: 3), "\(name) is never augmented")
        }
        let evaluation = try PreparedData(s, forEvaluation: true)
        XCTAssertEqual(try firstBatch(evaluation.train), try firstBatch(PreparedData(plain, forEvaluation: true).train),
                       "evaluating the training split does not augment it")
    }

    /// checkpoint.json files written before the two options lack their keys: they decode with the
    /// options off, and such a run can be read, used and resumed.
    func testCheckpointsWithoutTheNewFieldsStillLoad() throws {
        let data = try makeDataset("data")
        var s = settings(data: data, epochs: 1)
        s.randomCrop = 2
        s.randomErasing = 0.25
        s.randAugment = [1, 5]
        s.colorJitter = [0.2, 0.1]
        let dir = path("run")
        try Trainer.start(s, runDirectory: dir, say: { _ in }).fit()
        let run = RunDirectory(dir)
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: run.info)) as? [String: Any])
        var saved = try XCTUnwrap(json["settings"] as? [String: Any])
        XCTAssertEqual(saved["randomCrop"] as? Int, 2, "the options are saved with the run")
        XCTAssertEqual(saved["randomErasing"] as? Double, 0.25)
        XCTAssertEqual(saved["randAugment"] as? [Int], [1, 5])
        XCTAssertEqual(saved["colorJitter"] as? [Double], [0.2, 0.1])
        saved["randomCrop"] = nil
        saved["randomErasing"] = nil
        saved["randAugment"] = nil
        saved["colorJitter"] = nil
        json["settings"] = saved
        try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]).write(to: run.info)
        XCTAssertFalse(try String(contentsOf: run.info, encoding: .utf8).contains("random"))
        XCTAssertFalse(try String(contentsOf: run.info, encoding: .utf8).contains("randAugment"))
        XCTAssertFalse(try String(contentsOf: run.info, encoding: .utf8).contains("colorJitter"))

        let info = try run.loadInfo()
        XCTAssertNil(info.settings.randomCrop)
        XCTAssertNil(info.settings.randomErasing)
        XCTAssertNil(info.settings.randAugment)
        XCTAssertNil(info.settings.colorJitter)
        XCTAssertNoThrow(try Predictor(checkpoint: dir))
        let resumed = try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in })
        XCTAssertEqual(resumed.info.epoch, 1)
        XCTAssertEqual(resumed.info.settings.epochs, 2)
        XCTAssertNotNil(try resumed.fit())

        // The settings alone, as an older version encoded them (no keys at all for the options).
        let old = try JSONEncoder().encode(TrainingSettings())
        XCTAssertFalse(String(decoding: old, as: UTF8.self).contains("random"))
        XCTAssertFalse(String(decoding: old, as: UTF8.self).contains("randAugment"))
        XCTAssertFalse(String(decoding: old, as: UTF8.self).contains("colorJitter"))
        let decoded = try JSONDecoder().decode(TrainingSettings.self, from: old)
        XCTAssertEqual(decoded, TrainingSettings())
        XCTAssertEqual(decoded.pipeline(Preprocessing(height: 8, width: 8, channels: 1, rescale: 1), training: true).randomCropPadding, 0)
        XCTAssertTrue(decoded.pipeline(Preprocessing(height: 8, width: 8, channels: 1, rescale: 1), training: true).randAugment.isNone)
        XCTAssertTrue(decoded.pipeline(Preprocessing(height: 8, width: 8, channels: 1, rescale: 1), training: true).colorJitter.isNone)
    }
}
