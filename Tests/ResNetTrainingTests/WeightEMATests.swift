import Foundation
@testable import ResNetTraining
import XCTest

/// `--ema` (Polyak averaging as timm's ModelEmaV2): the update against hand-computed values, what
/// validation measures, what the run directory commits and what `predict`/`evaluate` read.
final class WeightEMATests: TrainerTestCase {
    /// A linear layer and a batch norm: parameters, running statistics and a counter.
    private final class Tiny: Module {
        let fc: Linear
        let bn: BatchNorm2D
        init(seed: UInt64) {
            fc = Linear(2, 1, seed: seed)
            bn = BatchNorm2D(1)
            super.init()
            register("fc", fc)
            register("bn", bn)
        }
    }

    private func set(_ t: Tensor, _ values: [Float]) { t.assign(Tensor(shape: t.shape, values: values)) }

    /// Three steps with decay 0.9 from fc.weight (1, 2): each is ema = 0.9 ema + 0.1 value, worked by hand.
    func testUpdateMatchesAHandComputedAverage() throws {
        let model = Tiny(seed: 1), shadow = Tiny(seed: 2)
        set(model.fc.weight, [1, 2])
        set(model.bn.runningMean, [4])
        let ema = try WeightEMA(source: model, shadow: shadow, decay: 0.9)
        XCTAssertEqual(shadow.fc.weight.toArray(), [1, 2], "the average starts at the model's weights")
        XCTAssertFalse(shadow.isTraining, "the average is evaluated, never trained")

        // Step 1: weights (3, -2), running mean 14, counter 5.
        set(model.fc.weight, [3, -2])
        set(model.bn.runningMean, [14])
        set(model.bn.numBatchesTracked, [5])
        ema.update(step: 0)
        // 0.9 * 1 + 0.1 * 3 = 1.2; 0.9 * 2 + 0.1 * -2 = 1.6; 0.9 * 4 + 0.1 * 14 = 5.
        XCTAssertEqual(shadow.fc.weight.toArray()[0], 1.2, accuracy: 1e-6)
        XCTAssertEqual(shadow.fc.weight.toArray()[1], 1.6, accuracy: 1e-6)
        XCTAssertEqual(shadow.bn.runningMean.toArray()[0], 5, accuracy: 1e-6)
        XCTAssertEqual(shadow.bn.numBatchesTracked.toArray(), [5], "the counter is copied, not averaged")

        // Step 2: weights (-1, 0): 0.9 * 1.2 - 0.1 = 0.98; 0.9 * 1.6 = 1.44.
        set(model.fc.weight, [-1, 0])
        ema.update(step: 1)
        XCTAssertEqual(shadow.fc.weight.toArray()[0], 0.98, accuracy: 1e-6)
        XCTAssertEqual(shadow.fc.weight.toArray()[1], 1.44, accuracy: 1e-6)
        XCTAssertEqual(shadow.bn.runningMean.toArray()[0], 0.9 * 5 + 0.1 * 14, accuracy: 1e-6)

        // Step 3: weights (5, 10): 0.9 * 0.98 + 0.5 = 1.382; 0.9 * 1.44 + 1 = 2.296.
        set(model.fc.weight, [5, 10])
        ema.update(step: 2)
        XCTAssertEqual(shadow.fc.weight.toArray()[0], 1.382, accuracy: 1e-6)
        XCTAssertEqual(shadow.fc.weight.toArray()[1], 2.296, accuracy: 1e-6)
        XCTAssertEqual(model.fc.weight.toArray(), [5, 10], "the model itself is untouched")

        // The state round-trips through load.
        let other = try WeightEMA(source: model, shadow: Tiny(seed: 3), decay: 0.9)
        try other.load(ema.state)
        XCTAssertEqual(other.shadow.stateDict()["fc.weight"]!.toArray(), shadow.fc.weight.toArray())
    }

    /// `--ema-warmup`: decay min(DECAY, (1 + t) / (10 + t)) at update t, so the first update keeps
    /// a tenth of the start; without it the decay is DECAY from the first step.
    func testWarmupRampsTheDecayByStep() throws {
        let model = Tiny(seed: 1), shadow = Tiny(seed: 2)
        set(model.fc.weight, [1, 2])
        let ema = try WeightEMA(source: model, shadow: shadow, decay: 0.999, warmup: true)
        XCTAssertEqual(ema.decay(atStep: 0), 0.1, accuracy: 1e-7)
        XCTAssertEqual(ema.decay(atStep: 8), 0.5, accuracy: 1e-7)
        XCTAssertEqual(ema.decay(atStep: 90), 0.91, accuracy: 1e-6)
        XCTAssertEqual(ema.decay(atStep: 100_000), 0.999, "the ramp stops at DECAY")
        XCTAssertEqual(try WeightEMA(source: model, shadow: Tiny(seed: 3), decay: 0.999).decay(atStep: 0), 0.999)
        // Step 0: 0.1 * 1 + 0.9 * 3 = 2.8; 0.1 * 2 + 0.9 * -2 = -1.6. Step 8 (decay 0.5) from (5, 0): 3.9, -0.8.
        set(model.fc.weight, [3, -2])
        ema.update(step: 0)
        XCTAssertEqual(shadow.fc.weight.toArray()[0], 2.8, accuracy: 1e-6)
        XCTAssertEqual(shadow.fc.weight.toArray()[1], -1.6, accuracy: 1e-6)
        set(model.fc.weight, [5, 0])
        ema.update(step: 8)
        XCTAssertEqual(shadow.fc.weight.toArray()[0], 3.9, accuracy: 1e-6)
        XCTAssertEqual(shadow.fc.weight.toArray()[1], -0.8, accuracy: 1e-6)
    }

    /// In a run: validation measures the EMA (history's val_loss is the EMA model's loss), the
    /// directory commits `ema-epochN.safetensors`, `predict`/`evaluate` and `--weights` read it for a
    /// run directory, and the raw weights with `rawWeights` or when the weights file is named.
    func testARunEvaluatesCommitsAndServesTheAverage() throws {
        let data = try makeDataset("data")
        var s = settings(data: data, epochs: 2)
        s.ema = 0.5
        let dir = path("run"), run = RunDirectory(dir)
        var lines: [String] = []
        try Trainer.start(s, runDirectory: dir, say: { lines.append($0) }).fit()
        XCTAssertTrue(lines.contains { $0.hasPrefix("  validation (EMA weights): loss") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("Test (EMA weights): loss") }, "\(lines)")
        let info = try run.loadInfo()
        XCTAssertEqual(info.emaFile, "ema-epoch2.safetensors")
        XCTAssertEqual(info.settings.ema, 0.5)
        let ema = try run.loadTensors(.ema, info: info), raw = try run.loadTensors(.weights, info: info)
        XCTAssertNotEqual(ema["fc.weight"]!.toArray(), raw["fc.weight"]!.toArray(), "the average is not the last weights")
        XCTAssertEqual(Set(ema.keys), Set(raw.keys))

        let averaged = try Predictor(checkpoint: dir), trained = try Predictor(checkpoint: dir, rawWeights: true)
        XCTAssertTrue(averaged.usesEMA)
        XCTAssertFalse(trained.usesEMA)
        XCTAssertEqual(averaged.model.stateDict()["fc.weight"]!.toArray(), ema["fc.weight"]!.toArray())
        XCTAssertEqual(trained.model.stateDict()["fc.weight"]!.toArray(), raw["fc.weight"]!.toArray())
        XCTAssertFalse(try Predictor(checkpoint: run.weights.path).usesEMA, "a weights file named explicitly is read as named")
        // `--weights RUN_DIR` starts from the same answer; a file named explicitly is read as named.
        let fromRun = try WeightLoader.read(dir)
        XCTAssertEqual(fromRun.tensors["fc.weight"]!.toArray(), ema["fc.weight"]!.toArray(), "--weights RUN_DIR starts from the average")
        XCTAssertEqual(URL(fileURLWithPath: fromRun.file).lastPathComponent, "ema-epoch2.safetensors")
        XCTAssertEqual(try WeightLoader.read(run.weights.path).tensors["fc.weight"]!.toArray(), raw["fc.weight"]!.toArray())

        // history's val_loss of epoch 2 is the loss of the committed EMA weights on the validation split.
        let validation = try XCTUnwrap(PreparedData(s).validation)
        let m = try Evaluator.evaluate(averaged.model, loader: validation, classes: 3, topK: 5)
        let r = try Evaluator.evaluate(trained.model, loader: validation, classes: 3, topK: 5)
        XCTAssertEqual(try XCTUnwrap(info.history.last?["val_loss"]), try XCTUnwrap(m.loss), accuracy: 1e-6)
        XCTAssertNotEqual(m.loss, r.loss, "the raw weights measure otherwise")
    }

    /// A save that fails while writing the EMA file leaves the last commit whole, and the run resumes.
    func testAFailedEMASaveKeepsTheLastCommit() throws {
        let data = try makeDataset("data")
        var s = settings(data: data, epochs: 1)
        s.ema = 0.9
        let dir = path("run"), run = RunDirectory(dir)
        try Trainer.start(s, runDirectory: dir, say: { _ in }).fit()
        let committed = try snapshot(run)
        XCTAssertNotNil(committed["ema-epoch1.safetensors"])
        let blocker = try block(run, .ema, epoch: 2)
        XCTAssertThrowsError(try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in }).fit()) { error in
            XCTAssertTrue("\(error)".contains("ema-epoch2.safetensors"), "\(error)")
        }
        XCTAssertEqual(try snapshot(run), committed, "the committed files are byte-for-byte unchanged")
        XCTAssertTrue(try Predictor(checkpoint: dir).usesEMA)
        try FileManager.default.removeItem(at: blocker)
        try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in }).fit()
        XCTAssertEqual(try run.loadInfo().emaFile, "ema-epoch2.safetensors")
        XCTAssertFalse(try listing(run).contains("ema-epoch1.safetensors"), "the earlier epoch's average is cleaned up")
    }

    /// The inode behind a name of the run directory.
    private func inode(_ url: URL) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: url.path)[.systemFileNumber] as? Int
    }

    /// A one-epoch run with `--ema`, committed (its first epoch is the best so far).
    private func emaRun() throws -> (dir: String, run: RunDirectory) {
        var s = settings(data: try makeDataset("data"), epochs: 1)
        s.ema = 0.5
        let dir = path("run")
        try Trainer.start(s, runDirectory: dir, say: { _ in }).fit()
        return (dir, RunDirectory(dir))
    }

    /// Sets `bestMetric` in the JSON: -1 makes the next epoch improve on val_acc, 2 (an accuracy no
    /// epoch reaches) keeps it from improving.
    private func setBestMetric(_ run: RunDirectory, _ value: Double) throws {
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: run.info)) as! [String: Any]
        json["bestMetric"] = value
        try JSONSerialization.data(withJSONObject: json).write(to: run.info)
    }

    /// An improving epoch writes the average once: the best file is a second name of the EMA file
    /// (one inode, as is best.safetensors). An epoch that does not improve removes the old EMA
    /// name; the best file keeps the bytes, still the committed best.
    func testTheBestFileOfAnEMARunIsTheEMAFileUnderASecondName() throws {
        let (dir, run) = try emaRun()
        var info = try run.loadInfo()
        XCTAssertEqual(info.bestFile, "best-epoch1.safetensors")
        XCTAssertEqual(info.emaFile, "ema-epoch1.safetensors")
        let ema1 = try inode(run.file("ema-epoch1.safetensors"))
        XCTAssertNotNil(ema1)
        XCTAssertEqual(try inode(run.file("best-epoch1.safetensors")), ema1, "best-epoch1 is the EMA file, not a second write")
        XCTAssertEqual(try inode(run.best), ema1)
        let best = try run.loadCommitted(.best).tensors, ema = try run.loadCommitted(.ema).tensors
        XCTAssertEqual(best["fc.weight"]!.toArray(), ema["fc.weight"]!.toArray())

        try setBestMetric(run, 2)
        try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in }).fit()
        info = try run.loadInfo()
        XCTAssertEqual(info.bestEpoch, 1)
        XCTAssertEqual(info.emaFile, "ema-epoch2.safetensors")
        XCTAssertFalse(try listing(run).contains("ema-epoch1.safetensors"), "the earlier average's EMA name is cleaned up")
        XCTAssertEqual(try inode(run.file("best-epoch1.safetensors")), ema1, "the best file keeps the epoch-1 average")
        XCTAssertNotEqual(try inode(run.file("ema-epoch2.safetensors")), ema1)
        XCTAssertEqual(try run.loadCommitted(.best).tensors["fc.weight"]!.toArray(), ema["fc.weight"]!.toArray())
        XCTAssertNoThrow(try Predictor(checkpoint: run.best.path))
    }

    /// A kill can land between any two steps of an improving EMA save (weights, optimizer state,
    /// the EMA file, the best name linked to it, the JSON): each is made to fail in turn, twice,
    /// and after each the last commit is whole and its best and EMA files both load; then the run
    /// resumes and commits the pair again.
    func testAKillAtAnyPointOfAnEMASaveKeepsBestAndEMA() throws {
        let (dir, run) = try emaRun()
        try setBestMetric(run, -1)   // any val_acc beats it, so epoch 2 links a best file
        let points = [run.file("checkpoint-epoch2.safetensors"), run.file("optimizer-epoch2.safetensors"),
                      run.file("ema-epoch2.safetensors"), run.file("best-epoch2.safetensors"), run.info]
        for point in points {
            for _ in 0..<2 {
                let committed = try snapshot(run)
                let blocker = try block(point)
                try Data(repeating: 7, count: 99).write(to: AtomicFile.temporaryURL(for: point, pid: deadPID()))
                XCTAssertThrowsError(try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in }).fit()) { error in
                    XCTAssertTrue("\(error)".contains(point.lastPathComponent), "\(point.lastPathComponent): \(error)")
                }
                try FileManager.default.removeItem(at: blocker)
                XCTAssertEqual(try snapshot(run), committed, "\(point.lastPathComponent)")
                XCTAssertEqual(try run.loadInfo().epoch, 1)
                XCTAssertNoThrow(try run.loadCommitted(.best), "\(point.lastPathComponent)")
                XCTAssertNoThrow(try run.loadCommitted(.ema), "\(point.lastPathComponent)")
                XCTAssertTrue(try Predictor(checkpoint: dir).usesEMA)
            }
        }
        try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in }).fit()
        let info = try run.loadInfo()
        XCTAssertEqual(info.bestEpoch, 2)
        XCTAssertEqual(try inode(run.file("best-epoch2.safetensors")), try inode(run.file("ema-epoch2.safetensors")))
        XCTAssertNoThrow(try run.loadCommitted(.best))
        XCTAssertNoThrow(try run.loadCommitted(.ema))
        let names = try listing(run)
        XCTAssertFalse(names.contains { $0.contains(".tmp-") }, "no temporaries are left: \(names)")
    }
}
