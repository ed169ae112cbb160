import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import ResNetTraining
import XCTest

/// The commit protocol of a run directory: no sequence of failed or killed saves deletes or
/// replaces the last committed state, readers only ever see committed files, `best.safetensors`
/// commits with the JSON, and one directory has one writer.
final class CheckpointProtocolTests: TrainerTestCase {
    /// The data-loss report: a save that fails while writing the optimizer state (the weights
    /// fit on the disk, the optimizer state does not), retried and failing again, must leave epoch
    /// 1 committed and readable; `predict`/`evaluate` must read the committed epoch-1 weights, not
    /// the newer uncommitted ones; once there is room the run resumes from epoch 1.
    func testRepeatedFailedSavesNeverLoseTheCommittedWeights() throws {
        let (_, dir, run) = try committedRun()
        let committed = try snapshot(run)
        let epoch1 = try run.loadCommitted(.weights).tensors

        let blocker = try block(run, .optimizer, epoch: 2)
        for attempt in 1...3 {
            XCTAssertThrowsError(try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in }).fit(), "attempt \(attempt)") { error in
                XCTAssertTrue("\(error)".contains("optimizer-epoch2.safetensors"), "\(error)")
            }
            XCTAssertEqual(try snapshot(run), committed, "attempt \(attempt): the committed files are byte-for-byte unchanged")
            XCTAssertEqual(try run.loadInfo().epoch, 1)
            XCTAssertTrue(FileManager.default.fileExists(atPath: run.file("checkpoint-epoch2.safetensors").path),
                          "the uncommitted epoch-2 weights were written (the failure came after them)")
        }
        // Readers see epoch 1, and refuse the leftover by name.
        let predictor = try Predictor(checkpoint: dir)
        for (name, tensor) in epoch1 { XCTAssertEqual(predictor.model.stateDict()[name]!.toArray(), tensor.toArray(), name) }
        XCTAssertEqual(try WeightLoader.read(dir).tensors["fc.weight"]!.toArray(), epoch1["fc.weight"]!.toArray())
        XCTAssertEqual(try WeightLoader.read(run.weights.path).tensors["fc.weight"]!.toArray(), epoch1["fc.weight"]!.toArray())
        XCTAssertThrowsError(try Predictor(checkpoint: run.file("checkpoint-epoch2.safetensors").path)) { error in
            XCTAssertTrue("\(error)".contains("unfinished save"), "\(error)")
        }

        try FileManager.default.removeItem(at: blocker)
        let resumed = try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in })
        XCTAssertEqual(resumed.info.epoch, 1)
        for (name, tensor) in epoch1 { XCTAssertEqual(resumed.model.stateDict()[name]!.toArray(), tensor.toArray(), name) }
        try resumed.fit()
        XCTAssertEqual(try run.loadInfo().epoch, 2)
        XCTAssertEqual(try historyRows(dir).count, 2)
    }

    /// A kill can land between any two file operations of a save. Each write of the protocol is
    /// made to fail in turn (the state a kill there leaves: the files before it written, the one
    /// in flight a torn temporary), twice in a row, and after each the committed state is intact,
    /// every reader agrees with the JSON, and the run still resumes and finishes.
    func testAKillAtAnyPointOfASaveKeepsTheLastCommit() throws {
        let (_, dir, run) = try committedRun()
        // The epoch-2 save writes weights, optimizer state, best weights (if val_acc improves), the
        // JSON; the best file comes last here because a save that does not improve never writes it.
        let points: [URL] = [run.file("checkpoint-epoch2.safetensors"), run.file("optimizer-epoch2.safetensors"),
                             run.info, run.file("best-epoch2.safetensors")]
        // Any val_acc beats -1, so epoch 2 always writes a best file and every point is reached.
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: run.info)) as! [String: Any]
        json["bestMetric"] = -1
        try JSONSerialization.data(withJSONObject: json).write(to: run.info)
        for point in points {
            for _ in 0..<2 {
                let committed = try snapshot(run)
                let info = try run.loadInfo()
                let blocker = try block(point)
                // A torn temporary of a dead process beside it, as a kill mid-write leaves.
                try Data(repeating: 7, count: 99).write(to: AtomicFile.temporaryURL(for: point, pid: deadPID()))
                let trainer = try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in })
                XCTAssertThrowsError(try trainer.fit()) { error in
                    XCTAssertTrue("\(error)".contains(point.lastPathComponent), "\(point.lastPathComponent): \(error)")
                }
                try FileManager.default.removeItem(at: blocker)
                XCTAssertEqual(try snapshot(run), committed, "\(point.lastPathComponent)")
                XCTAssertEqual(try run.loadInfo().bestEpoch, info.bestEpoch)
                XCTAssertNoThrow(try run.loadCommitted(.weights))
                XCTAssertNoThrow(try run.loadCommitted(.optimizer))
                XCTAssertNoThrow(try run.loadCommitted(.best), "best.safetensors matches the JSON's best epoch")
                XCTAssertNoThrow(try Predictor(checkpoint: run.best.path))
            }
        }
        try Trainer.resume(runDirectory: dir, epochs: 3, say: { _ in }).fit()
        XCTAssertEqual(try run.loadInfo().epoch, 3)
        let names = try listing(run)
        XCTAssertFalse(names.contains { $0.contains(".tmp-") }, "no temporaries are left: \(names)")
    }

    /// `best.safetensors` is committed by the JSON: after a save whose JSON write failed, the JSON
    /// still names the old best epoch and the best file still holds it, whatever was written since.
    /// A fixed-name link left stale (a kill between the commit and the link update) is not read:
    /// readers go through the JSON.
    func testBestWeightsCommitWithTheJSON() throws {
        let (_, dir, run) = try committedRun()
        let info = try run.loadInfo()
        XCTAssertEqual(info.bestEpoch, 1)
        XCTAssertEqual(info.bestFile, "best-epoch1.safetensors")
        let best1 = try run.loadCommitted(.best).tensors

        // The fixed name made stale by hand: it holds other weights now.
        let stale = try model("resnet20", seed: 99, classes: 3)
        try SafeTensors.write(stale.stateDict(), metadata: ["epoch": "7"], to: run.best)
        let predictor = try Predictor(checkpoint: run.best.path)
        XCTAssertEqual(predictor.weightsFile?.lastPathComponent, "best-epoch1.safetensors")
        XCTAssertEqual(predictor.model.stateDict()["fc.weight"]!.toArray(), best1["fc.weight"]!.toArray())
    }

    /// A kill after the commit but before the fixed names were updated leaves them pointing at the
    /// previous epoch; the next resume points them at the committed files again.
    func testResumeRepairsFixedNamesLeftStale() throws {
        let (_, dir, run) = try committedRun()
        let epoch1 = try Data(contentsOf: run.weights)
        try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in }).fit()
        try FileManager.default.removeItem(at: run.weights)
        try epoch1.write(to: run.weights)   // as if the link had never been replaced
        _ = try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in })
        let committed = run.committedFile(.weights, info: try run.loadInfo())!
        let a = try FileManager.default.attributesOfItem(atPath: run.weights.path)[.systemFileNumber] as? Int
        let b = try FileManager.default.attributesOfItem(atPath: committed.path)[.systemFileNumber] as? Int
        XCTAssertEqual(a, b, "checkpoint.safetensors is the committed file again")
    }

    /// A save that does not continue the committed epoch (another writer advanced the run) is
    /// refused before anything is written, and the later commit stays.
    func testACommitMustContinueTheCommittedEpoch() throws {
        let (_, dir, run) = try committedRun()
        try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in }).fit()
        let before = try snapshot(run)
        var stale = try run.loadInfo()
        stale.epoch = 2
        XCTAssertThrowsError(try run.commit(stale, after: 1, model: [:], optimizer: [:], best: nil)) { error in
            XCTAssertTrue("\(error)".contains("another writer changed the run"), "\(error)")
        }
        XCTAssertEqual(try snapshot(run), before)
    }

    /// A tensor file without a recorded epoch (a foreign file copied over a committed one) is not
    /// taken for the committed state.
    func testAFileWithoutARecordedEpochIsRefused() throws {
        let (_, _, run) = try committedRun()
        let committed = run.committedFile(.weights, info: try run.loadInfo())!
        try SafeTensors.write(try SafeTensors.read(committed).tensors(), to: committed)
        XCTAssertThrowsError(try run.loadCommitted(.weights)) { XCTAssertTrue("\($0)".contains("none recorded"), "\($0)") }
    }

    /// A second writer is refused while the first holds the directory, naming the holder's PID;
    /// both a new run with the same `--out` and a `--resume`. Once the first is done, resume works.
    func testOneRunDirectoryHasOneWriter() throws {
        let data = try makeDataset("data")
        let dir = path("run")
        let first = try Trainer.start(settings(data: data, epochs: 1), runDirectory: dir, say: { _ in })
        XCTAssertThrowsError(try Trainer.start(settings(data: data, epochs: 1), runDirectory: dir, say: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("in use by another `resnet train` (PID \(getpid()))"), "\(error)")
        }
        try first.fit()
        XCTAssertThrowsError(try Trainer.start(settings(data: data, epochs: 1), runDirectory: dir, say: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("already holds a checkpoint"), "\(error)")
        }
        let second = try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in })
        XCTAssertThrowsError(try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("PID \(getpid())"), "\(error)")
        }
        try second.fit()
        XCTAssertEqual(try RunDirectory(dir).loadInfo().epoch, 2)
        XCTAssertNoThrow(try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in }), "the lock went with the first fit")
    }

    /// A run that cannot start (here: no such data) leaves no directory behind.
    func testARunThatCannotStartLeavesNothing() throws {
        let dir = path("never")
        var s = settings(data: path("no-such-data"), epochs: 1)
        s.seed = 1
        XCTAssertThrowsError(try Trainer.start(s, runDirectory: dir, say: { _ in }))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir))
    }
}

/// Run directories written before per-epoch names (`checkpoint.safetensors`, `optimizer.safetensors`,
/// `best.safetensors` named implicitly, `.prev` after a torn save) still resume, and nothing they
/// still need is removed before a new commit replaces it.
final class LegacyRunDirectoryTests: TrainerTestCase {
    /// Turns a committed one-epoch run into the layout of the previous version.
    private func legacyRun() throws -> RunDirectory {
        let (_, _, run) = try committedRun()
        let fm = FileManager.default
        for name in ["checkpoint-epoch1.safetensors", "best-epoch1.safetensors"] { try fm.removeItem(at: run.file(name)) }
        try fm.moveItem(at: run.file("optimizer-epoch1.safetensors"), to: run.file(RunDirectory.optimizerFile))
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: run.info)) as! [String: Any]
        json.removeValue(forKey: "weightsFile")
        json.removeValue(forKey: "bestFile")
        json["optimizerStateFile"] = RunDirectory.optimizerFile
        try JSONSerialization.data(withJSONObject: json).write(to: run.info)
        return run
    }

    func testALegacyRunResumesAndMovesToPerEpochNames() throws {
        let run = try legacyRun()
        let weights = try SafeTensors.read(run.weights).tensors()
        let resumed = try Trainer.resume(runDirectory: run.url.path, epochs: 2, say: { _ in })
        XCTAssertEqual(resumed.model.stateDict()["fc.weight"]!.toArray(), weights["fc.weight"]!.toArray())
        XCTAssertNoThrow(try Predictor(checkpoint: run.best.path))
        try resumed.fit()
        let info = try run.loadInfo()
        XCTAssertEqual(info.epoch, 2)
        XCTAssertEqual(info.weightsFile, "checkpoint-epoch2.safetensors")
        XCTAssertFalse(try listing(run).contains(RunDirectory.optimizerFile), "the old optimizer file went after the new commit")
    }

    /// A torn legacy save: `checkpoint.safetensors` already holds epoch 2, the committed epoch 1 is
    /// in `.prev`. The resume reads `.prev` and keeps it until a new commit exists.
    func testATornLegacySaveKeepsItsPrevUntilTheNextCommit() throws {
        let run = try legacyRun()
        let prev = run.weights.appendingPathExtension("prev")
        try FileManager.default.moveItem(at: run.weights, to: prev)
        let epoch1 = try SafeTensors.read(prev).tensors()
        var newer = epoch1
        newer["fc.bias"] = Tensor(shape: [3], values: [9, 9, 9])
        try SafeTensors.write(newer, metadata: ["epoch": "2"], to: run.weights)

        let resumed = try Trainer.resume(runDirectory: run.url.path, epochs: 2, say: { _ in })
        XCTAssertEqual(resumed.model.stateDict()["fc.bias"]!.toArray(), epoch1["fc.bias"]!.toArray(), "the committed epoch-1 weights")
        XCTAssertTrue(FileManager.default.fileExists(atPath: prev.path), "still the only copy of the committed weights")
        try block(run, .weights, epoch: 2)
        XCTAssertThrowsError(try resumed.fit())
        XCTAssertTrue(FileManager.default.fileExists(atPath: prev.path), "a failed save keeps it too")
        XCTAssertEqual(try Predictor(checkpoint: run.url.path).model.stateDict()["fc.bias"]!.toArray(), epoch1["fc.bias"]!.toArray())
    }
}
