import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import ResNetTraining
import XCTest

/// The training loop end to end on a tiny made-up dataset (3 classes of 12x12 RGB PNGs): exact
/// resume, torn and failed saves, foreign weights, divergence and early stopping.
final class TrainerTests: TrainerTestCase {
    // MARK: 1. Exact resume

    /// A run killed after epoch 1 (its run directory copied at the moment epoch 2 begins, which is
    /// exactly what a kill then leaves on disk) and resumed ends bit-for-bit where the run that was
    /// never interrupted ends: weights, BN buffers, momentum buffers, history. Cosine moves per
    /// batch, so this also checks the schedule position is restored.
    func testResumeAfterAKillIsBitExact() throws {
        try assertResumeAfterAKillIsBitExact { _ in }
    }

    /// The same with the padded random crop and random erasing on: their draws come from the
    /// per-sample stream too, so the resumed epoch sees the same crops and rectangles.
    func testResumeAfterAKillIsBitExactWithRandomCropAndErasing() throws {
        try assertResumeAfterAKillIsBitExact {
            $0.randomCrop = 3
            $0.randomErasing = 0.5
        }
    }

    /// mixup and CutMix both on: each batch's kind, lambda and box come from (seed, epoch, batch).
    func testResumeAfterAKillIsBitExactWithMixupAndCutMix() throws {
        let mixed = try assertResumeAfterAKillIsBitExact {
            $0.mixup = 0.4
            $0.cutmix = 1.0
        }
        // The option is really on: the same run without it trains on other inputs and targets.
        try Trainer.start(settings(data: path("data"), epochs: 2), runDirectory: path("plain"), say: { _ in }).fit()
        let plain = try RunDirectory(path("plain")).loadInfo().history.compactMap { $0["loss"] }
        XCTAssertEqual(plain.count, 2)
        XCTAssertNotEqual(plain, mixed.losses, "mixing changes the training loss")
    }

    /// RandAugment on: each image's ops and signs come from the per-sample stream, so the resumed
    /// epoch sees the same ops.
    func testResumeAfterAKillIsBitExactWithRandAugment() throws {
        let run = try assertResumeAfterAKillIsBitExact { $0.randAugment = [2, 9] }
        // The option is really on: the same run without it trains on other inputs.
        try Trainer.start(settings(data: path("data"), epochs: 2), runDirectory: path("plain"), say: { _ in }).fit()
        XCTAssertNotEqual(try RunDirectory(path("plain")).loadInfo().history.compactMap { $0["loss"] }, run.losses)
    }

    /// Colour jitter on (RGB images): the order and factors come from the per-sample stream.
    func testResumeAfterAKillIsBitExactWithColorJitter() throws {
        let run = try assertResumeAfterAKillIsBitExact { $0.colorJitter = [0.4, 0.4, 0.4, 0.1] }
        try Trainer.start(settings(data: path("data"), epochs: 2), runDirectory: path("plain"), say: { _ in }).fit()
        XCTAssertNotEqual(try RunDirectory(path("plain")).loadInfo().history.compactMap { $0["loss"] }, run.losses)
    }

    /// The moving average of the weights (`--ema`) is restored from its committed file.
    func testResumeAfterAKillIsBitExactWithEMA() throws {
        try assertResumeAfterAKillIsBitExact { $0.ema = 0.9 }
    }

    /// With `--ema-warmup` the decay ramps by the run's optimizer step, which the checkpoint keeps:
    /// the resumed average equals the uninterrupted one, and differs from an average without the ramp.
    func testResumeAfterAKillIsBitExactWithEMAWarmup() throws {
        let run = try assertResumeAfterAKillIsBitExact {
            $0.ema = 0.99
            $0.emaWarmup = true
        }
        var s = settings(data: path("data"), epochs: 2)
        s.ema = 0.99
        try Trainer.start(s, runDirectory: path("flat"), say: { _ in }).fit()
        let ema = RunDirectory.epochFileName(.ema, epoch: 2)
        let ramped = try SafeTensors.read(URL(fileURLWithPath: run.dir).appendingPathComponent(ema)).tensors()
        let flat = try SafeTensors.read(URL(fileURLWithPath: path("flat")).appendingPathComponent(ema)).tensors()
        XCTAssertNotEqual(ramped["fc.weight"]!.toArray(), flat["fc.weight"]!.toArray(), "the ramp changed the average")
    }

    /// `--ema-warmup` without `--ema` has nothing to ramp.
    func testEMAWarmupNeedsEMA() throws {
        var s = settings(data: try makeDataset("data"), epochs: 1)
        s.emaWarmup = true
        XCTAssertThrowsError(try Trainer.start(s, runDirectory: path("run"), say: { _ in })) {
            XCTAssertTrue("\($0)".contains("--ema-warmup"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run")), "nothing is made")
    }

    /// Gradient accumulation over 2 batches (the last group of each epoch is 1 batch) with clipping.
    func testResumeAfterAKillIsBitExactWithAccumulationAndClipping() throws {
        let run = try assertResumeAfterAKillIsBitExact {
            $0.accumulate = 2
            $0.clipGradNorm = 0.5
        }
        // Clipping is really on: without it the same run trains otherwise.
        var s = settings(data: path("data"), epochs: 2)
        s.accumulate = 2
        try Trainer.start(s, runDirectory: path("unclipped"), say: { _ in }).fit()
        XCTAssertNotEqual(try RunDirectory(path("unclipped")).loadInfo().history.compactMap { $0["loss"] }, run.losses)
    }

    /// Fine-tuning: frozen parts are frozen again on resume (their batch norms in inference mode), and the classifier keeps its own rate.
    func testResumeAfterAKillIsBitExactWithFreezingAndHeadLR() throws {
        try assertResumeAfterAKillIsBitExact {
            $0.freeze = ["stem", "layer2"]
            $0.headLR = 0.5
        }
    }

    /// Returns the finished run's directory and its training losses (to compare with a run without the option).
    @discardableResult
    private func assertResumeAfterAKillIsBitExact(_ edit: (inout TrainingSettings) -> Void) throws -> (dir: String, losses: [Double]) {
        let data = try makeDataset("data")
        let a = path("runA"), b = path("runB")
        var copyError: Error?
        var s = settings(data: data, epochs: 2)
        edit(&s)
        let runA = try Trainer.start(s, runDirectory: a, say: { line in
            if line == "Epoch 2/2" {
                do { try FileManager.default.copyItem(atPath: a, toPath: b) } catch { copyError = error }
            }
        })
        let testA = try runA.fit()
        XCTAssertNil(copyError)
        let interrupted = try RunDirectory(b).loadInfo()
        XCTAssertEqual(interrupted.epoch, 1, "the copy is the state after epoch 1")
        XCTAssertEqual(interrupted.settings, s, "the resumed run reads the same settings, augmentation included")

        let runB = try Trainer.resume(runDirectory: b, say: { _ in })
        XCTAssertEqual(runB.info.epoch, 1)
        let testB = try runB.fit()

        assertSameTensors(a, b, RunDirectory.weightsFile)
        if s.emaDecay != nil { assertSameTensors(a, b, RunDirectory.epochFileName(.ema, epoch: 2)) }
        assertSameTensors(a, b, RunDirectory.epochFileName(.optimizer, epoch: 2))
        try assertSameHistory(a, b, rows: 2)
        let infoA = try RunDirectory(a).loadInfo(), infoB = try RunDirectory(b).loadInfo()
        XCTAssertEqual(infoA.epoch, 2)
        XCTAssertEqual(infoB.epoch, 2)
        XCTAssertEqual(infoA.step, infoB.step)
        let k = s.accumulate ?? 1
        XCTAssertEqual(infoA.step, 2 * ((3 + k - 1) / k), "24 training images in batches of 8 for 2 epochs, K batches a step")
        // Everything but the wall-clock `time` of each epoch is identical.
        XCTAssertEqual(infoA.history.map { $0.filter { $0.key != "time" } }, infoB.history.map { $0.filter { $0.key != "time" } })
        XCTAssertTrue(infoA.history.allSatisfy { ($0["time"] ?? 0) > 0 }, "every epoch records its training time")
        XCTAssertEqual(infoA.learningRate, infoB.learningRate)
        XCTAssertEqual(testA?.accuracy, testB?.accuracy)
        XCTAssertEqual(testA?.loss, testB?.loss)
        return (a, infoA.history.compactMap { $0["loss"] })
    }

    /// The recipe: start with 1 epoch, then `resume(epochs: 2)`, equals a 2-epoch run. That
    /// only holds for a schedule whose epoch-1 learning rates do not depend on the total: with
    /// "cosine" the 1-epoch run anneals to 0 within its single epoch (t / totalEpochs), so its
    /// epoch 1 is a different computation from the 2-epoch run's by design, not a resume bug
    /// (checked at the end). A step decay ("step:1:0.5", per epoch) and a constant rate extend exactly.
    func testExtendingARunEqualsTheLongerRun() throws {
        let data = try makeDataset("data")
        for schedule in ["step:1:0.5"] {
            let a = path("A-\(schedule)"), b = path("B-\(schedule)")
            var s = settings(data: data, epochs: 2)
            s.schedule = schedule
            try Trainer.start(s, runDirectory: a, say: { _ in }).fit()
            s.epochs = 1
            try Trainer.start(s, runDirectory: b, say: { _ in }).fit()
            XCTAssertEqual(try RunDirectory(b).loadInfo().epoch, 1)
            let resumed = try Trainer.resume(runDirectory: b, epochs: 2, say: { _ in })
            XCTAssertEqual(resumed.settings.epochs, 2)
            try resumed.fit()

            assertSameTensors(a, b, RunDirectory.weightsFile)
            assertSameTensors(a, b, RunDirectory.epochFileName(.optimizer, epoch: 2))
            try assertSameHistory(a, b, rows: 2)
            let infoB = try RunDirectory(b).loadInfo()
            XCTAssertEqual(infoB.settings.epochs, 2, "the new target is saved")
            XCTAssertEqual(infoB.step, 6)
        }

        // Cosine: the 1-epoch run's first epoch uses other learning rates than the 2-epoch run's
        // (last batch of epoch 1: near 0 against about half the base rate).
        let one = try LRSchedule(parsing: "cosine", totalEpochs: 1), two = try LRSchedule(parsing: "cosine", totalEpochs: 2)
        XCTAssertNotEqual(one.learningRate(base: 0.05, epoch: 0, step: 2, stepsPerEpoch: 3),
                          two.learningRate(base: 0.05, epoch: 0, step: 2, stepsPerEpoch: 3))
    }

    // MARK: 2. Torn and failed saves

    /// Truncated temporaries left by a killed save (this process's PID and a dead one) and whole
    /// but uncommitted tensor files neither damage the committed checkpoint nor stop a resume;
    /// the resume removes them, and the next commit leaves only what its JSON names.
    func testLeftoversFromAKilledSaveAreHarmless() throws {
        let data = try makeDataset("data")
        let dir = path("run")
        try Trainer.start(settings(data: data, epochs: 1), runDirectory: dir, say: { _ in }).fit()
        let run = RunDirectory(dir)
        let before = try snapshot(run)
        XCTAssertEqual(try listing(run), [".lock", "best-epoch1.safetensors", "best.safetensors", "checkpoint-epoch1.safetensors",
                                          "checkpoint.json", "checkpoint.safetensors", "history.csv", "history.svg",
                                          "optimizer-epoch1.safetensors"])

        let good = try Data(contentsOf: run.weights)
        let next = run.file(RunDirectory.epochFileName(.weights, epoch: 2))
        let ours = AtomicFile.temporaryURL(for: next)
        let dead = AtomicFile.temporaryURL(for: next, pid: deadPID())
        let optimizerTemp = AtomicFile.temporaryURL(for: run.file(RunDirectory.epochFileName(.optimizer, epoch: 2)))
        try good.prefix(good.count / 2).write(to: ours)
        try good.prefix(100).write(to: dead)
        try Data(repeating: 0xFF, count: 37).write(to: optimizerTemp)
        try good.write(to: next)   // a whole weights file of a save that never committed

        XCTAssertEqual(try snapshot(run), before)
        XCTAssertNoThrow(try run.loadCommitted(.weights))
        XCTAssertThrowsError(try SafeTensors.read(ours), "the leftover really is torn")

        let resumed = try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in })
        XCTAssertEqual(resumed.info.epoch, 1)
        for leftover in [ours, dead, optimizerTemp, next] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: leftover.path), "\(leftover.lastPathComponent) was cleaned up")
        }
        try resumed.fit()
        XCTAssertEqual(try run.loadInfo().epoch, 2)
        XCTAssertNoThrow(try run.loadCommitted(.weights))
        XCTAssertNoThrow(try run.loadCommitted(.optimizer))
        let names = try listing(run)
        XCTAssertFalse(names.contains("checkpoint-epoch1.safetensors"), "\(names)")
        XCTAssertFalse(names.contains("optimizer-epoch1.safetensors"), "\(names)")
        XCTAssertTrue(names.contains("checkpoint-epoch2.safetensors"), "\(names)")
    }

    /// A save that fails (here: the weights' temporary path is blocked by a directory, so the
    /// write cannot even start) stops training with an error naming the file, and leaves the
    /// previous checkpoint byte-for-byte as it was; once the obstacle is gone the run resumes from
    /// it, and the history rows of the failed epoch are dropped and rewritten.
    func testAFailedSaveLeavesThePreviousCheckpointResumable() throws {
        let data = try makeDataset("data")
        let dir = path("run")
        try Trainer.start(settings(data: data, epochs: 1), runDirectory: dir, say: { _ in }).fit()
        let run = RunDirectory(dir)
        let before = try snapshot(run)

        let blocker = try block(run, .weights, epoch: 2)
        let failing = try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in })
        XCTAssertThrowsError(try failing.fit()) { error in
            XCTAssertTrue(error is AtomicFileError, "\(error)")
            XCTAssertTrue("\(error)".contains(run.file("checkpoint-epoch2.safetensors").path), "\(error)")
        }
        XCTAssertEqual(try snapshot(run), before, "the epoch-1 checkpoint is untouched")
        XCTAssertEqual(try run.loadInfo().epoch, 1)

        try FileManager.default.removeItem(at: blocker)
        try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in }).fit()
        XCTAssertEqual(try run.loadInfo().epoch, 2)
        XCTAssertEqual(try historyRows(dir).count, 2, "epoch 2 logged once, not twice")
    }

    /// A committed file replaced by another epoch's (an old file copied over) is refused,
    /// naming the file and both epochs.
    func testResumeRefusesWeightsFromAnotherEpoch() throws {
        let data = try makeDataset("data")
        let dir = path("run")
        try Trainer.start(settings(data: data, epochs: 1), runDirectory: dir, say: { _ in }).fit()
        let run = RunDirectory(dir)
        let epoch1Weights = try Data(contentsOf: run.weights)
        try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in }).fit()
        let info = try run.loadInfo()
        XCTAssertEqual(info.epoch, 2)
        let committed = run.committedFile(.weights, info: info)!
        try epoch1Weights.write(to: committed)
        XCTAssertThrowsError(try Trainer.resume(runDirectory: dir, epochs: 3, say: { _ in })) { error in
            guard case TrainingError.checkpoint(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains(committed.path), message)
            XCTAssertTrue(message.contains("epoch 1"), message)
            XCTAssertTrue(message.contains("epoch 2"), message)
        }
        XCTAssertThrowsError(try Predictor(checkpoint: dir)) { XCTAssertTrue("\($0)".contains("epoch 1"), "\($0)") }
    }

    /// Non-finite numbers in the description (a NaN metric, the plateau schedule's initial ±inf best)
    /// are written as strings and read back, so they can never make a save fail half-way.
    func testNonFiniteNumbersSurviveTheCheckpointDescription() throws {
        let data = try makeDataset("data")
        let dir = path("run")
        let trainer = try Trainer.start(settings(data: data, epochs: 1), runDirectory: dir, say: { _ in })
        try trainer.fit()
        let run = RunDirectory(dir)
        var info = try run.loadInfo()
        info.history.append(["loss": .nan])
        info.plateau = ["best": .infinity, "bad_epochs": 0, "learning_rate": 0.1, "cooldown_remaining": 0]
        info.epoch = 2
        try run.commit(info, after: 1, model: trainer.model.stateDict(), optimizer: [:], best: nil)
        let back = try run.loadInfo()
        XCTAssertTrue(back.history.last!["loss"]!.isNaN)
        XCTAssertEqual(back.plateau?["best"], .infinity)
        XCTAssertTrue(try String(contentsOf: run.info, encoding: .utf8).contains("\"nan\""))
    }

    // MARK: 3. Foreign weights

    /// A torchvision-named resnet18 file round-trips into another resnet18; a 10-class file fills a
    /// 1000-class model's backbone and says the head was re-initialised; wrong files are refused
    /// naming the key (and shapes).
    func testForeignWeights() throws {
        let source = try model("resnet18", seed: 1)
        let file = directory.appendingPathComponent("resnet18.safetensors")
        try SafeTensors.write(source.stateDict(), metadata: ["format": "pt"], to: file)
        let names = Set(try SafeTensors.read(file).names)
        for key in ["conv1.weight", "bn1.running_var", "bn1.num_batches_tracked", "layer1.0.conv1.weight",
                    "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_mean", "layer4.1.bn2.bias",
                    "fc.weight", "fc.bias"] {
            XCTAssertTrue(names.contains(key), "torchvision key \(key)")
        }
        XCTAssertEqual(try SafeTensors.read(file).entries["bn1.num_batches_tracked"]?.dtype, .i64)

        let target = try model("resnet18", seed: 2)
        XCTAssertNotEqual(target.stateDict()["conv1.weight"]!.toArray(), source.stateDict()["conv1.weight"]!.toArray())
        let notes = try WeightLoader.load(try WeightLoader.read(file.path).tensors, into: target, source: file.path)
        XCTAssertEqual(notes, [])
        let loaded = target.stateDict(), original = source.stateDict()
        XCTAssertEqual(Set(loaded.keys), Set(original.keys))
        for (name, tensor) in original {
            XCTAssertEqual(loaded[name]!.toArray(), tensor.toArray(), name)
        }

        // 10 classes into 1000: backbone loaded, fc left as the target's own fresh initialisation.
        let tenClass = try model("resnet18", seed: 3, classes: 10)
        let tenFile = directory.appendingPathComponent("resnet18-10.safetensors")
        try SafeTensors.write(tenClass.stateDict(), to: tenFile)
        let wide = try model("resnet18", seed: 4)
        let freshHead = wide.stateDict()["fc.weight"]!.toArray(), freshBias = wide.stateDict()["fc.bias"]!.toArray()
        // Only fine-tuning (`--weights`) may swap the head; a checkpoint's own classifier must fit.
        assertWeightsError(try WeightLoader.load(try WeightLoader.read(tenFile.path).tensors, into: wide, source: tenFile.path),
                           contains: ["fc.weight", "[10, 512]", "[1000, 512]"])
        let headNotes = try WeightLoader.load(try WeightLoader.read(tenFile.path).tensors, into: wide, source: tenFile.path, allowNewHead: true)
        XCTAssertEqual(headNotes.count, 1)
        XCTAssertTrue(headNotes.first?.contains("10 classes") ?? false, "\(headNotes)")
        XCTAssertTrue(headNotes.first?.contains("1000") ?? false, "\(headNotes)")
        XCTAssertTrue(headNotes.first?.contains("re-initialised") ?? false, "\(headNotes)")
        let wideState = wide.stateDict(), tenState = tenClass.stateDict()
        for (name, tensor) in tenState where !name.hasPrefix("fc.") {
            XCTAssertEqual(wideState[name]!.toArray(), tensor.toArray(), name)
        }
        XCTAssertEqual(wideState["fc.weight"]!.shape, [1000, 512])
        XCTAssertEqual(wideState["fc.weight"]!.toArray(), freshHead)
        XCTAssertEqual(wideState["fc.bias"]!.toArray(), freshBias)

        // resnet34 into resnet18: the first key resnet18 does not have.
        let r34 = try model("resnet34", seed: 5).stateDict()
        let r34File = directory.appendingPathComponent("resnet34.safetensors")
        try SafeTensors.write(r34, to: r34File)
        let firstExtra = r34.keys.sorted().first(where: { original[$0] == nil })!
        assertWeightsError(try WeightLoader.load(try WeightLoader.read(r34File.path).tensors, into: target, source: r34File.path),
                           contains: [r34File.path, "'\(firstExtra)'", "resnet18"])

        // A misshaped conv weight: the key and both shapes.
        var misshaped = original
        misshaped["layer2.0.conv1.weight"] = Tensor(zeros: [128, 64, 1, 1])
        assertWeightsError(try WeightLoader.load(misshaped, into: target, source: "bad.safetensors"),
                           contains: ["bad.safetensors", "'layer2.0.conv1.weight'", "[128, 64, 1, 1]", "[128, 64, 3, 3]"])

        // A missing key.
        var missing = original
        missing["layer3.1.bn2.running_var"] = nil
        assertWeightsError(try WeightLoader.load(missing, into: target, source: "short.safetensors"),
                           contains: ["short.safetensors", "missing", "'layer3.1.bn2.running_var'"])
    }

    /// `Trainer.start(weights:)` with another head size passes the loader's note to `say`.
    func testStartFromForeignWeightsSaysTheHeadWasReset() throws {
        let data = try makeDataset("data")
        var config = try ResNetRegistry.config("resnet20")
        config.numClasses = 10
        let file = directory.appendingPathComponent("resnet20-10.safetensors")
        let foreign = try ResNet(config)
        try SafeTensors.write(foreign.stateDict(), to: file)
        var lines: [String] = []
        let trainer = try Trainer.start(settings(data: data, epochs: 1), runDirectory: path("run"), weights: file.path,
                                        say: { lines.append($0) })
        XCTAssertTrue(lines.contains { $0.hasPrefix("note: ") && $0.contains("re-initialised") }, "\(lines)")
        XCTAssertTrue(lines.contains("loaded weights from \(file.path)"), "\(lines)")
        XCTAssertEqual(trainer.model.stateDict()["conv1.weight"]!.toArray(), foreign.stateDict()["conv1.weight"]!.toArray())
        XCTAssertEqual(trainer.model.stateDict()["fc.weight"]!.shape[0], 3)
    }

    // MARK: 4. Divergence

    /// An absurd learning rate after a good epoch: training stops with `.diverged`, naming the last
    /// good checkpoint (epoch 1), which is left exactly as it was and still resumes.
    func testDivergenceStopsAndKeepsTheLastGoodCheckpoint() throws {
        let data = try makeDataset("data")
        let dir = path("run")
        try Trainer.start(settings(data: data, epochs: 1), runDirectory: dir, say: { _ in }).fit()
        let run = RunDirectory(dir)
        var info = try run.loadInfo()
        info.settings.learningRate = 1e6
        try JSONEncoder().encode(info).write(to: run.info)
        let before = try snapshot(run, includingInfo: false)

        let trainer = try Trainer.resume(runDirectory: dir, epochs: 6, say: { _ in })
        XCTAssertThrowsError(try trainer.fit()) { error in
            guard case TrainingError.diverged(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("last good checkpoint (epoch 1)"), message)
            XCTAssertTrue(message.contains(dir), message)
        }
        XCTAssertEqual(try snapshot(run, includingInfo: false), before, "the epoch-1 checkpoint is intact")
        XCTAssertEqual(try run.loadInfo().epoch, 1)
        XCTAssertNoThrow(try run.loadCommitted(.weights))
        XCTAssertNoThrow(try Trainer.resume(runDirectory: dir, say: { _ in }))
    }

    /// Divergence in the very first epoch: nothing was saved, and the message does not claim a
    /// checkpoint exists.
    func testDivergenceInTheFirstEpochSavesNothing() throws {
        let data = try makeDataset("data")
        let dir = path("run")
        var s = settings(data: data, epochs: 3)
        s.learningRate = 1e30
        XCTAssertThrowsError(try Trainer.start(s, runDirectory: dir, say: { _ in }).fit()) { error in
            guard case TrainingError.diverged(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("epoch 1"), message)
            XCTAssertFalse(message.contains("is intact"), message)
            XCTAssertTrue(message.contains("no checkpoint"), message)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: RunDirectory(dir).weights.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: RunDirectory(dir).info.path))
    }

    // MARK: 5. Early stopping

    /// Every image is the same picture, so in inference mode the model gives every validation image
    /// the same class and val_acc is 1/3 whatever the weights: it never improves after epoch 1.
    /// Patience 1 (Keras's meaning: one epoch without improvement) stops after epoch 2 of 6, saved as
    /// stoppedEarly, and a resume does not train on.
    func testEarlyStoppingWhenTheMonitorCannotImprove() throws {
        let data = try makeDataset("same", identical: true)
        let dir = path("run")
        var s = settings(data: data, epochs: 6)
        s.earlyStoppingPatience = 1
        var lines: [String] = []
        try Trainer.start(s, runDirectory: dir, say: { lines.append($0) }).fit()
        let info = try RunDirectory(dir).loadInfo()
        XCTAssertTrue(info.stoppedEarly)
        XCTAssertEqual(info.epoch, 2)
        XCTAssertEqual(info.bestEpoch, 1)
        XCTAssertEqual(info.history.map { $0["val_acc"]! }, [1.0 / 3, 1.0 / 3])
        XCTAssertEqual(try historyRows(dir).count, 2)
        XCTAssertTrue(lines.contains { $0.hasPrefix("early stopping") }, "\(lines)")
        XCTAssertFalse(lines.contains("Epoch 3/6"))

        try Trainer.resume(runDirectory: dir, say: { _ in }).fit()
        XCTAssertEqual(try RunDirectory(dir).loadInfo().epoch, 2, "a stopped run stays stopped")
    }

    // MARK: Helpers

    /// A monitor the run never logs (top-5 of a 3-class problem is logged as top3) is refused up
    /// front, naming the metrics that exist, instead of silently never saving best.safetensors.
    func testAMonitorThatIsNeverLoggedIsRefused() throws {
        let data = try makeDataset("data")
        var s = settings(data: data, epochs: 1)
        s.monitor = "val_top5"
        XCTAssertThrowsError(try Trainer.start(s, runDirectory: path("run"), say: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("val_top3"), "\(error)")
        }
    }

    // MARK: 6. Predict

    /// `resnet predict`'s engine on a test-made image: the preprocessing saved with the checkpoint
    /// (resize to 12x12 nearest, rescale 1/255) and the checkpoint's weights give the same
    /// probabilities as running the model by hand; from the run directory and from best.safetensors.
    func testPredictUsesTheSavedPreprocessingAndWeights() throws {
        let data = try makeDataset("data")
        let dir = path("run")
        let trainer = try Trainer.start(settings(data: data, epochs: 1), runDirectory: dir, say: { _ in })
        try trainer.fit()
        // A 24x24 image: prediction must resize it to the 12x12 the model was trained on.
        var pixels = [UInt8](repeating: 0, count: 24 * 24 * 3)
        // Constant 2x2 cells, so any nearest-neighbour convention samples the same values.
        for y in 0..<24 { for x in 0..<24 { for c in 0..<3 {
            pixels[(y * 24 + x) * 3 + c] = UInt8(((y / 2) * 12 + x / 2) * 7 % 251 + c)
        } } }
        let image = directory.appendingPathComponent("query.png").path
        try PNGCodec.write(PixelImage(width: 24, height: 24, channels: 3, pixels: pixels), to: image)

        let predictor = try Predictor(checkpoint: dir)
        XCTAssertEqual(predictor.classNames, ["class0", "class1", "class2"])
        let probabilities = try predictor.probabilities(files: [image])[0]
        XCTAssertEqual(probabilities.reduce(0, +), 1, accuracy: 1e-5)

        // By hand: nearest resize 24 -> 12 takes one pixel of each 2x2 cell, times 1/255.
        var input = [Float](repeating: 0, count: 12 * 12 * 3)
        for y in 0..<12 { for x in 0..<12 { for c in 0..<3 {
            input[(y * 12 + x) * 3 + c] = Float(pixels[((2 * y) * 24 + 2 * x) * 3 + c]) / 255
        } } }
        trainer.model.eval()
        let expected = GradMode.withoutGradient { softmax(trainer.model(Tensor(shape: [1, 12, 12, 3], values: input))) }.toArray()
        for (p, e) in zip(probabilities, expected) { XCTAssertEqual(p, e, accuracy: 1e-5) }

        let top = try predictor.topK(file: image, k: 2)
        XCTAssertEqual(top.count, 2)
        XCTAssertEqual(top[0].probability, probabilities.max()!, accuracy: 1e-6)
        XCTAssertEqual(try Predictor(checkpoint: RunDirectory(dir).best.path).probabilities(files: [image])[0].count, 3)
        XCTAssertThrowsError(try Predictor(checkpoint: directory.appendingPathComponent("query.png").path)) {
            XCTAssertTrue("\($0)".contains("checkpoint.json"), "\($0)")
        }
    }
}
