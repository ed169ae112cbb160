import Foundation
@testable import ResNetTraining
import XCTest

/// `--time-budget`: the first epoch's time (from an injected clock, never a real one) decides the
/// epoch count and the schedule's length, and the checkpoint keeps the decision for `--resume`.
final class TimeBudgetTests: TrainerTestCase {
    func testEpochsThatFit() {
        let budget = TimeBudget(minutes: 80)
        XCTAssertEqual(budget.epochs(epochSeconds: 100, testSeconds: 0), 48)
        XCTAssertEqual(budget.epochs(epochSeconds: 100, testSeconds: 30), 47, "4800 s - 30 s of test leaves 47 epochs of 100 s")
        XCTAssertEqual(budget.epochs(epochSeconds: 6000, testSeconds: 0), 1, "at least one epoch, the one already trained")
        XCTAssertEqual(budget.epochs(epochSeconds: 6000, testSeconds: 0, minimum: 3), 3, "at least the warmup")
        XCTAssertEqual(budget.epochs(epochSeconds: 0, testSeconds: 0), TrainingSettings.maxEpochs)
        XCTAssertEqual(TimeBudget(minutes: 1).epochs(epochSeconds: 1e-300, testSeconds: 0), TrainingSettings.maxEpochs)
    }

    /// A clock that reads 0 first and `seconds` ever after: the first epoch took `seconds`, validation none.
    private func fakeClock(_ seconds: Double) -> () -> Double {
        var reads = 0
        return { defer { reads += 1 }; return reads == 0 ? 0 : seconds }
    }

    private func budgetRun(_ dir: String, minutes: Double, epochSeconds: Double, schedule: String, edit: (inout TrainingSettings) -> Void = { _ in },
                           say: @escaping (String) -> Void = { _ in }) throws -> Trainer {
        var s = settings(data: try makeDataset("data"), epochs: 1)   // 1: the provisional length the budget replaces
        s.timeBudget = minutes
        s.schedule = schedule
        edit(&s)
        let trainer = try Trainer.start(s, runDirectory: dir, say: say)
        trainer.clock = fakeClock(epochSeconds)
        return trainer
    }

    func testTheFirstEpochsTimeSetsTheEpochsAndTheScheduleLength() throws {
        // 1 minute at 25 s an epoch: 2 epochs (the 2 test images take no time at validation's pace of 0 s).
        var lines: [String] = []
        let cosine = try budgetRun(path("cosine"), minutes: 1, epochSeconds: 25, schedule: "cosine", say: { lines.append($0) })
        try cosine.fit()
        XCTAssertEqual(cosine.settings.epochs, 2)
        XCTAssertEqual(cosine.schedule, .cosine(epochs: 2, minimum: 0))
        XCTAssertTrue(lines.contains("Epoch 1 (timed for --time-budget 1.0 min)"), "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("time budget: epoch 1 took 25 s") && $0.contains("training for 2 epochs") }, "\(lines)")
        XCTAssertTrue(lines.contains("Epoch 2/2"))
        let info = try RunDirectory(path("cosine")).loadInfo()
        XCTAssertEqual(info.epoch, 2)
        XCTAssertEqual(info.timeBudgetEpochs, 2)
        XCTAssertEqual(info.settings.epochs, 2)
        XCTAssertEqual(info.history.count, 2)
        // Epoch 2 ran on the 2-epoch cosine: its last rate is the cosine's at step 2 of epoch 1.
        XCTAssertEqual(info.history[1]["lr"].map(Float.init), LRSchedule.cosine(epochs: 2, minimum: 0).learningRate(base: 0.05, epoch: 1, step: 2, stepsPerEpoch: 3))

        // 1 minute at 7 s: 8 epochs of one-cycle; a 1-epoch warmup wraps it.
        let onecycle = try budgetRun(path("onecycle"), minutes: 1, epochSeconds: 7, schedule: "onecycle") { $0.warmupEpochs = 1 }
        try onecycle.fit()
        XCTAssertEqual(onecycle.settings.epochs, 8)
        XCTAssertEqual(onecycle.schedule, .warmup(epochs: 1, startFactor: 0.1, then: .oneCycle(epochs: 8, rise: 0.3)))
        XCTAssertEqual(try RunDirectory(path("onecycle")).loadInfo().history.count, 8)

        // No epoch fits: the one trained is the run; a schedule with its own length keeps it.
        let short = try budgetRun(path("short"), minutes: 0.1, epochSeconds: 60, schedule: "linear:5")
        try short.fit()
        XCTAssertEqual(short.settings.epochs, 1)
        XCTAssertEqual(short.schedule, .linear(epochs: 5, minimum: 0))
    }

    /// The resumed run continues the decided schedule and does not time itself again (its real
    /// clock would decide otherwise); it ends bit-identical to the run that never stopped.
    func testResumeKeepsTheDecision() throws {
        let a = path("a"), b = path("b")
        var copyError: Error?
        let runA = try budgetRun(a, minutes: 1, epochSeconds: 20, schedule: "cosine", say: { line in
            if line == "Epoch 2/3" {
                do { try FileManager.default.copyItem(atPath: a, toPath: b) } catch { copyError = error }
            }
        })
        try runA.fit()
        XCTAssertNil(copyError)
        XCTAssertEqual(try RunDirectory(b).loadInfo().timeBudgetEpochs, 3)
        var lines: [String] = []
        let runB = try Trainer.resume(runDirectory: b, say: { lines.append($0) })
        XCTAssertEqual(runB.settings.epochs, 3)
        XCTAssertEqual(runB.schedule, .cosine(epochs: 3, minimum: 0))
        try runB.fit()
        XCTAssertFalse(lines.contains { $0.hasPrefix("time budget") }, "\(lines)")
        assertSameTensors(a, b, RunDirectory.weightsFile)
        assertSameTensors(a, b, RunDirectory.epochFileName(.optimizer, epoch: 3))
        try assertSameHistory(a, b, rows: 3)
    }

    func testValidation() {
        var s = settings(data: "unused", epochs: 1)
        for minutes in [0, -1, .nan, .infinity, 1e9] {
            s.timeBudget = minutes
            XCTAssertThrowsError(try s.validate()) { XCTAssertTrue("\($0)".hasPrefix("--time-budget must be a number of minutes in (0, 525600]"), "\($0)") }
        }
        s.timeBudget = 80
        XCTAssertNoThrow(try s.validate())
    }
}
