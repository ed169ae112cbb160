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
        for (name, tensor) in epoch1 { XCTAssertEqual(predictor.model.stateDict()[name]!.array, tensor.array, name) }
        XCTAssertEqual(try WeightLoader.read(dir)["fc.weight"]!.array, epoch1["fc.weight"]!.array)
        XCTAssertEqual(try WeightLoader.read(run.weights.path)["fc.weight"]!.array, epoch1["fc.weight"]!.array)
        XCTAssertThrowsError(try Predictor(checkpoint: run.file("checkpoint-epoch2.safetensors").path)) { error in
            XCTAssertTrue("\(error)".contains("unfinished save"), "\(error)")
        }

        try FileManager.default.removeItem(at: blocker)
        let resumed = try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in })
        XCTAssertEqual(resumed.info.epoch, 1)
        for (name, tensor) in epoch1 { XCTAssertEqual(resumed.model.stateDict()[name]!.array, tensor.array, name) }
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
        for point in points {
            for _ in 0..<2 {
                let committed = try snapshot(run)
                let info = try run.loadInfo()
                let blocker = try block(point)
                // A torn temporary of a dead process beside it, as a kill mid-write leaves.
                try Data(repeating: 7, count: 99).write(to: AtomicFile.temporaryURL(for: point, pid: deadPID()))
                let trainer = try Trainer.resume(runDirectory: dir, epochs: 2, say: { _ in })
                do { try trainer.fit() } catch {}
                try FileManager.default.removeItem(at: blocker)
                if try run.loadInfo().epoch == 2 {
                    // This point was never reached (no improvement, so no best file): the save committed.
                    XCTAssertEqual(point.lastPathComponent, "best-epoch2.safetensors")
                    break
                }
                XCTAssertEqual(try snapshot(run), committed, "\(point.lastPathComponent)")
                XCTAssertEqual(try run.loadInfo().bestEpoch, info.bestEpoch)
                XCTAssertNoThrow(try run.loadCommitted(.weights))
                XCTAssertNoThrow(try run.loadCommitted(.optimizer))
                XCTAssertNoThrow(try run.loadCommitted(.best), "best.safetensors matches the JSON's best epoch")
                XCTAssertNoThrow(try Predictor(checkpoint: run.best.path))
            }
            if try run.loadInfo().epoch == 2 { break }
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
        XCTAssertEqual(predictor.weightsFile.lastPathComponent, "best-epoch1.safetensors")
        XCTAssertEqual(predictor.model.stateDict()["fc.weight"]!.array, best1["fc.weight"]!.array)
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

    /// A run that fails before its first epoch leaves no directory behind (it made it).
    func testARunThatCannotStartLeavesNothing() throws {
        let dir = path("never")
        var s = settings(data: path("no-such-data"), epochs: 1)
        s.seed = 1
        XCTAssertThrowsError(try Trainer.start(s, runDirectory: dir, say: { _ in }))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir))
    }
}
