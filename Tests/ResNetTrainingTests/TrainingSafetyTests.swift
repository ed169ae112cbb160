import Foundation
@testable import ResNetTraining
import XCTest

/// Options that were accepted and gave a silently wrong run, and the trainer's words in the
/// situations users met: no validation split, a finished run resumed, Ctrl-C, relative paths.
final class TrainingSafetyTests: TrainerTestCase {
    /// Each of these was accepted before (a NaN even kept the loss finite, so the divergence guard
    /// never fired); each is now refused naming the option.
    func testOptionsOutsideTheirRangeAreRefused() throws {
        let cases: [(String, (inout TrainingSettings) -> Void)] = [
            ("--rescale", { $0.rescale = .nan }),
            ("--zoom", { $0.zoomRange = .nan }),
            ("--rotation", { $0.rotationRange = .nan }),
            ("--cval", { $0.cval = .nan }),
            ("--width-shift", { $0.widthShiftRange = .infinity }),
            ("--height-shift", { $0.heightShiftRange = -1 }),
            ("--shear", { $0.shearRange = .nan }),
            ("--momentum", { $0.momentum = -5 }),
            ("--warmup-epochs", { $0.warmupEpochs = -5 }),
            ("--early-stopping", { $0.earlyStoppingPatience = -1 }),
            ("gamma '1e39'", { $0.schedule = "step:1:1e39" }),
            ("--split", { $0.splitRatios = [.infinity, 1, 1] }),
            ("--split", { $0.splitRatios = [1e308, 1e308, 1] }),
            ("--image-size", { $0.imageSize = 100_000 }),
            ("--epochs", { $0.epochs = 0 }),
            ("--batch-size", { $0.batchSize = 10_000_000 }),
            ("--workers", { $0.workers = 0 }),
            ("--classes", { $0.classes = 1_000_000_000 }),
            ("--top-k", { $0.topK = 0 }),
            ("--lr", { $0.learningRate = .nan }),
            ("--weight-decay", { $0.weightDecay = .infinity }),
            ("--random-crop", { $0.randomCrop = -1 }),
            ("--random-crop must be between 0 and 6 (half the 12-pixel image side), got 7", { $0.imageSize = 12; $0.randomCrop = 7 }),
            ("--random-crop must be between 0 and 2048 (half the 4096-pixel image side), got \(Int.max)", { $0.randomCrop = Int.max }),
            ("--random-crop must be between 0 and 2048 (half the 4096-pixel image side), got -1", { $0.randomCrop = -1 }),
            ("--random-erasing", { $0.randomErasing = .nan }),
            ("--random-erasing", { $0.randomErasing = 2 }),
            ("--random-erasing", { $0.randomErasing = -0.5 }),
            ("--randaugment M (magnitude) must be between 0 and 30", { $0.randAugment = [2, 31] }),
            ("--randaugment N (ops per image) must be between 0 and 16", { $0.randAugment = [-1, 9] }),
            ("--randaugment takes two numbers N,M", { $0.randAugment = [2] }),
            ("--color-jitter brightness", { $0.colorJitter = [.nan] }),
            ("--color-jitter hue must be a finite number between 0 and 0.5", { $0.colorJitter = [0, 0, 0, 0.6] }),
            ("--color-jitter takes one to four numbers", { $0.colorJitter = [1, 1, 1, 1, 1] }),
        ]
        for (option, edit) in cases {
            var s = TrainingSettings()
            edit(&s)
            XCTAssertThrowsError(try s.validate(), option) { error in
                XCTAssertTrue("\(error)".contains(option), "\(option): \(error)")
            }
        }
        XCTAssertNoThrow(try TrainingSettings().validate(), "the defaults are valid")
    }

    /// Without a validation split, `val_acc` cannot be measured: the run says so and its messages
    /// name the metric it really watches (`acc`), never "val_acc improved".
    func testNoValidationSplitMonitorsTheTrainingMetric() throws {
        let data = try makeDataset("data")
        try FileManager.default.removeItem(atPath: data + "/validation")
        var lines: [String] = []
        try Trainer.start(settings(data: data, epochs: 1), runDirectory: path("run"), say: { lines.append($0) }).fit()
        XCTAssertTrue(lines.contains { $0.contains("no validation split") && $0.contains("acc on the training data") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("  acc improved") }, "\(lines)")
        XCTAssertFalse(lines.contains { $0.contains("val_acc improved") }, "\(lines)")
    }

    /// A resume of a run that has done all its epochs says so in words (not "epoch 4 of 3").
    func testResumingAFinishedRunSaysThereIsNothingToTrain() throws {
        let data = try makeDataset("data")
        let dir = path("run")
        try Trainer.start(settings(data: data, epochs: 1), runDirectory: dir, say: { _ in }).fit()
        var lines: [String] = []
        try Trainer.resume(runDirectory: dir, say: { lines.append($0) }).fit()
        XCTAssertTrue(lines.contains { $0.contains("has completed 1 of 1 epochs: nothing to train") }, "\(lines)")
        XCTAssertFalse(lines.contains { $0.contains("epoch 2 of 1") }, "\(lines)")
        XCTAssertEqual(try RunDirectory(dir).loadInfo().epoch, 1)
    }

    /// A stop request (Ctrl-C) mid-epoch ends training at a step boundary with `.interrupted`,
    /// names the committed epoch and the command that continues it, and leaves the checkpoint as
    /// it was; the printed command then finishes the run.
    func testAStopRequestLeavesTheLastCheckpointAndSaysHowToResume() throws {
        let (_, dir, run) = try committedRun()
        let before = try snapshot(run)
        let stop = StopRequest()
        let trainer = try Trainer.resume(runDirectory: dir, epochs: 3, say: { line in
            if line == "Epoch 2/3" { stop.request("Ctrl-C (SIGINT)") }   // arrives during the epoch
        })
        trainer.stopRequest = stop
        XCTAssertThrowsError(try trainer.fit()) { error in
            guard case TrainingError.interrupted(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("stopped by Ctrl-C (SIGINT) in epoch 2, after batch 1 of 3"), message)
            XCTAssertTrue(message.contains("the last checkpoint (epoch 1) is committed"), message)
            XCTAssertTrue(message.contains("resnet train --resume \(run.url.path) --epochs 3"), message)
        }
        XCTAssertEqual(try snapshot(run), before)
        // A stop asked for before an epoch starts ends the run there, before any step.
        let early = StopRequest()
        early.request("SIGTERM")
        let idle = try Trainer.resume(runDirectory: dir, epochs: 3, say: { _ in })
        idle.stopRequest = early
        XCTAssertThrowsError(try idle.fit()) { XCTAssertTrue("\($0)".hasPrefix("stopped by SIGTERM: the last checkpoint (epoch 1)"), "\($0)") }
        XCTAssertEqual(try snapshot(run), before)
        try Trainer.resume(runDirectory: dir, epochs: 3, say: { _ in }).fit()
        XCTAssertEqual(try run.loadInfo().epoch, 3)
    }

    /// `--data` given relative is stored absolute, so the run can be evaluated or resumed from
    /// another working directory.
    func testRelativeDataPathsAreStoredAbsolute() throws {
        _ = try makeDataset("data")
        let saved = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(directory.path)
        defer { FileManager.default.changeCurrentDirectoryPath(saved) }
        try Trainer.start(settings(data: "data", epochs: 1), runDirectory: "run", say: { _ in }).fit()
        let info = try RunDirectory(path("run")).loadInfo()
        XCTAssertEqual(info.settings.data, URL(fileURLWithPath: path("data")).standardizedFileURL.path)
        FileManager.default.changeCurrentDirectoryPath("/")
        XCTAssertNoThrow(try Trainer.resume(runDirectory: path("run"), epochs: 2, say: { _ in }))
    }

    /// An empty `--out` is an error, not the current directory.
    func testAnEmptyRunDirectoryIsRefused() throws {
        let data = try makeDataset("data")
        XCTAssertThrowsError(try Trainer.start(settings(data: data, epochs: 1), runDirectory: "", say: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("--out must not be empty"), "\(error)")
        }
    }

    /// Evaluation reads the checkpoint's preprocessing as saved, width included.
    func testEvaluationUsesTheSavedPreprocessing() throws {
        let data = try makeDataset("data")
        var s = settings(data: data, epochs: 1)
        let saved = Preprocessing(height: 12, width: 10, channels: 3, rescale: 1.0 / 255)
        s.imageSize = 12
        let prepared = try PreparedData(s, forEvaluation: true, preprocessing: saved)
        XCTAssertEqual(prepared.preprocessing, saved)
        let batch = try prepared.test!.epoch(0).next()!
        XCTAssertEqual(batch.width, 10)
        XCTAssertEqual(batch.height, 12)
    }
}
