@testable import ResNetTraining
import Foundation
import XCTest

/// Each schedule's learning rate at chosen epochs and steps, base rate 0.1 unless said otherwise.
final class LRScheduleTests: XCTestCase {
    private func rate(_ schedule: LRSchedule, _ epoch: Int, step: Int = 0, of stepsPerEpoch: Int = 100, base: Float = 0.1) -> Float {
        schedule.learningRate(base: base, epoch: epoch, step: step, stepsPerEpoch: stepsPerEpoch)
    }

    func testConstant() {
        XCTAssertEqual(rate(.constant, 0), 0.1)
        XCTAssertEqual(rate(.constant, 89, step: 99), 0.1)
    }

    func testStep() {
        let schedule = LRSchedule.step(every: 30, gamma: 0.1)
        XCTAssertEqual(rate(schedule, 0), 0.1, accuracy: 1e-9)
        XCTAssertEqual(rate(schedule, 29, step: 99), 0.1, accuracy: 1e-9, "moves only at the epoch boundary")
        XCTAssertEqual(rate(schedule, 30), 0.01, accuracy: 1e-9)     // 0.1·0.1¹
        XCTAssertEqual(rate(schedule, 65), 0.001, accuracy: 1e-10)   // 0.1·0.1² (⌊65/30⌋ = 2)
    }

    func testMultiStep() {
        let schedule = LRSchedule.multiStep(milestones: [30, 60, 80], gamma: 0.1)
        XCTAssertEqual(rate(schedule, 29), 0.1, accuracy: 1e-9)
        XCTAssertEqual(rate(schedule, 30), 0.01, accuracy: 1e-9)
        XCTAssertEqual(rate(schedule, 79), 0.001, accuracy: 1e-10)
        XCTAssertEqual(rate(schedule, 80), 0.0001, accuracy: 1e-11)
        XCTAssertEqual(rate(schedule, 89), 0.0001, accuracy: 1e-11)
    }

    func testCosine() {
        let schedule = LRSchedule.cosine(epochs: 10, minimum: 0)
        XCTAssertEqual(rate(schedule, 0), 0.1, accuracy: 1e-9)
        XCTAssertEqual(rate(schedule, 5), 0.05, accuracy: 1e-8)                        // (1 + cos(π/2))/2 = 1/2
        XCTAssertEqual(rate(schedule, 2, step: 50), 0.0853553, accuracy: 1e-7)         // t = 2.5: 0.1·(1 + cos(π/4))/2
        XCTAssertEqual(rate(schedule, 10), 0, accuracy: 1e-9)
        XCTAssertEqual(rate(schedule, 12), 0, accuracy: 1e-9, "stays at the minimum after the end")
        let floored = LRSchedule.cosine(epochs: 10, minimum: 0.001)
        XCTAssertEqual(rate(floored, 5), 0.0505, accuracy: 1e-8)                       // 0.001 + 0.099·1/2
        XCTAssertEqual(rate(floored, 10), 0.001, accuracy: 1e-9)
    }

    func testLinearWarmup() {
        let schedule = LRSchedule.warmup(epochs: 5, startFactor: 0.1, then: .constant)
        XCTAssertEqual(rate(schedule, 0), 0.01, accuracy: 1e-9)                        // 0.1·0.1
        XCTAssertEqual(rate(schedule, 2, step: 50), 0.055, accuracy: 1e-9)             // t = 2.5: 0.1·(0.1 + 0.9·2.5/5)
        XCTAssertEqual(rate(schedule, 4, step: 99), 0.09982, accuracy: 1e-7)           // t = 4.99: 0.1·(0.1 + 0.9·0.998)
        XCTAssertEqual(rate(schedule, 5), 0.1, accuracy: 1e-9)
    }

    func testWarmupComposesWithMultiStepAndCosine() {
        let goyal = LRSchedule.warmup(epochs: 5, startFactor: 0.1, then: .multiStep(milestones: [30, 60, 80], gamma: 0.1))
        XCTAssertEqual(rate(goyal, 0, base: 3.2), 0.32, accuracy: 1e-6)
        XCTAssertEqual(rate(goyal, 10, base: 3.2), 3.2, accuracy: 1e-6)
        XCTAssertEqual(rate(goyal, 30, base: 3.2), 0.32, accuracy: 1e-6, "milestones stay absolute epochs")
        let cosine = LRSchedule.warmup(epochs: 2, startFactor: 0, then: .cosine(epochs: 10, minimum: 0))
        XCTAssertEqual(rate(cosine, 0), 0, accuracy: 1e-9)
        XCTAssertEqual(rate(cosine, 1), 0.0487764, accuracy: 1e-7)                     // 0.1·(1 + cos(π/10))/2 · 1/2
        XCTAssertEqual(rate(cosine, 5), 0.05, accuracy: 1e-8)
    }

    func testParsing() throws {
        XCTAssertEqual(try LRSchedule(parsing: "constant"), .constant)
        XCTAssertEqual(try LRSchedule(parsing: "step:30:0.1"), .step(every: 30, gamma: 0.1))
        XCTAssertEqual(try LRSchedule(parsing: "step:30"), .step(every: 30, gamma: 0.1))
        XCTAssertEqual(try LRSchedule(parsing: "multistep:30,60,80:0.1"), .multiStep(milestones: [30, 60, 80], gamma: 0.1))
        XCTAssertEqual(try LRSchedule(parsing: "cosine", totalEpochs: 90), .cosine(epochs: 90, minimum: 0))
        XCTAssertEqual(try LRSchedule(parsing: "Cosine:200:1e-5"), .cosine(epochs: 200, minimum: 1e-5))
        XCTAssertEqual(try LRSchedule(parsing: "warmup:5:0.1+multistep:30,60,80"),
                       .warmup(epochs: 5, startFactor: 0.1, then: .multiStep(milestones: [30, 60, 80], gamma: 0.1)))
        XCTAssertEqual(try LRSchedule(parsing: "warmup:3"), .warmup(epochs: 3, startFactor: 0.1, then: .constant))
    }

    func testBadStringsGiveClearErrors() {
        let bad: [(String, String)] = [
            ("cosin", "unknown schedule 'cosin'"),
            ("step:x:0.1", "step interval 'x'"),
            ("step:30:-1", "gamma '-1'"),
            ("multistep:60,30:0.1", "milestones must increase"),
            ("multistep:30,,60", "milestones '30,,60'"),
            ("cosine", "cosine needs its length"),
            ("warmup:0+cosine:90", "positive whole number of epochs"),
            ("warmup:5:2+constant", "start factor"),
            ("warmup:5+warmup:2", "only one warmup"),
            ("step:30+cosine:90", "only a warmup"),
            ("", "unknown schedule"),
            ("onecycle:10:1.5", "PCT_START"), ("onecycle:10:0", "PCT_START"), ("linear:0", "linear epochs"), ("linear:10:-1", "minimum"),
        ]
        for (text, fragment) in bad {
            XCTAssertThrowsError(try LRSchedule(parsing: text), text) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(fragment), "'\(text)' gave: \(message)")
                XCTAssertTrue(message.contains("multistep:M1,M2"), "lists the accepted forms")
            }
        }
    }

    func testDescriptionAndCodableRoundTrip() throws {
        let schedules: [LRSchedule] = [
            .constant, .step(every: 30, gamma: 0.1), .multiStep(milestones: [30, 60, 80], gamma: 0.2),
            .cosine(epochs: 90, minimum: 1e-5), .warmup(epochs: 5, startFactor: 0.25, then: .cosine(epochs: 90, minimum: 0)),
            .linear(epochs: 20, minimum: 1e-4), .oneCycle(epochs: 30, rise: 0.25), .warmup(epochs: 2, startFactor: 0.1, then: .linear(epochs: 10, minimum: 0)),
        ]
        for schedule in schedules {
            XCTAssertEqual(try LRSchedule(parsing: schedule.description), schedule, schedule.description)
            let data = try JSONEncoder().encode(schedule)
            XCTAssertEqual(try JSONDecoder().decode(LRSchedule.self, from: data), schedule)
        }
    }

    /// Linear decay: base at the start, halfway at half the run (per batch), `minimum` at the end and after.
    func testLinear() throws {
        let s = try LRSchedule(parsing: "linear", totalEpochs: 10)
        XCTAssertEqual(s, .linear(epochs: 10, minimum: 0))
        XCTAssertEqual(s.learningRate(base: 0.1, epoch: 0), 0.1, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(base: 0.1, epoch: 5), 0.05, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(base: 0.1, epoch: 2, step: 5, stepsPerEpoch: 10), 0.075, accuracy: 1e-7, "2.5 of 10 epochs")
        XCTAssertEqual(s.learningRate(base: 0.1, epoch: 10), 0, accuracy: 1e-9)
        XCTAssertEqual(LRSchedule.linear(epochs: 4, minimum: 0.02).learningRate(base: 0.1, epoch: 2), 0.06, accuracy: 1e-7)
        XCTAssertEqual(LRSchedule.linear(epochs: 4, minimum: 0.02).learningRate(base: 0.1, epoch: 9), 0.02, accuracy: 1e-7)
    }

    /// One cycle (PyTorch OneCycleLR defaults): base/25 at the start, base at 30% of the run, then
    /// cosine down to base/25/1e4; halfway up the rise, the mean of base/25 and base.
    func testOneCycle() throws {
        let s = try LRSchedule(parsing: "onecycle", totalEpochs: 10)
        XCTAssertEqual(s, .oneCycle(epochs: 10, rise: 0.3))
        let base: Float = 0.4
        XCTAssertEqual(s.learningRate(base: base, epoch: 0), 0.016, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(base: base, epoch: 1, step: 5, stepsPerEpoch: 10), (0.016 + 0.4) / 2, accuracy: 1e-6, "15% of the run")
        XCTAssertEqual(s.learningRate(base: base, epoch: 3), 0.4, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(base: base, epoch: 6, step: 5, stepsPerEpoch: 10), (0.4 + 0.016e-4) / 2, accuracy: 1e-6, "halfway down")
        XCTAssertEqual(s.learningRate(base: base, epoch: 10), 0.016e-4, accuracy: 1e-10)
        let rates = (0..<100).map { s.learningRate(base: base, epoch: $0 / 10, step: $0 % 10, stepsPerEpoch: 10) }
        XCTAssertEqual(rates.firstIndex(of: rates.max()!), 30, "the peak is at 30% of the run")
        XCTAssertTrue(zip(rates[..<30], rates[1...30]).allSatisfy { $0 < $1 } && zip(rates[30...], rates[31...]).allSatisfy { $0 > $1 })
    }

    func testUsableThroughTheProtocol() {
        let schedule: any LearningRateSchedule = LRSchedule.step(every: 1, gamma: 0.5)
        XCTAssertEqual(schedule.learningRate(base: 1, epoch: 3, step: 0, stepsPerEpoch: 10), 0.125)
    }
}
