import ResNetEngine
@testable import ResNetTraining
import XCTest

/// `--head-lr`: the classifier steps at its own rate, everything else at `--lr`, and schedules move both alike.
final class HeadLearningRateTests: TrainerTestCase {
    private let convValues: [Float] = [0.5, -1.25, 2, 0.75], fcValues: [Float] = [1, -2, 3, 0.5, 0.25, -0.125]
    private let convGrad: [Float] = [0.3, -0.7, 1.1, 0.2], fcGrad: [Float] = [0.9, -0.4, 0.05, 1.3, -2.2, 0.6]

    /// A conv weight and an fc weight with their gradients set.
    private func parameters() -> [(name: String, tensor: Tensor)] {
        let conv = Tensor(shape: [1, 1, 2, 2], values: convValues, requiresGrad: true)
        let fc = Tensor(shape: [2, 3], values: fcValues, requiresGrad: true)
        conv.grad = Tensor(shape: conv.shape, values: convGrad)
        fc.grad = Tensor(shape: fc.shape, values: fcGrad)
        return [("layer1.0.conv1.weight", conv), ("fc.weight", fc)]
    }

    func testOneSGDStepMovesTheHeadByHeadLRTimesGradAndTheRestByLR() {
        let lr: Float = 0.01, headLR: Float = 0.1
        let params = parameters()
        let sgd = SGD(parameters: params, learningRate: lr)   // no momentum, no weight decay: p -= lr·g
        sgd.parameterLearningRates = ["fc.weight": headLR]
        sgd.step()
        XCTAssertEqual(params[0].tensor.toArray(), zip(convValues, convGrad).map { $0 - lr * $1 })
        XCTAssertEqual(params[1].tensor.toArray(), zip(fcValues, fcGrad).map { $0 - headLR * $1 })
        XCTAssertEqual(sgd.learningRate(for: "fc.weight"), headLR)
        XCTAssertEqual(sgd.learningRate(for: "layer1.0.conv1.weight"), lr)
    }

    /// Adam and AdamW (whose decoupled decay uses the rate too): a parameter with its own rate
    /// steps exactly as in an optimizer whose rate that is.
    func testAdamGivesTheHeadTheUpdateOfAnOptimizerAtItsRate() {
        for decoupled in [false, true] {
            let grouped = parameters(), alone = parameters()
            func make(_ p: [(name: String, tensor: Tensor)], _ lr: Float) -> Adam {
                decoupled ? AdamW(parameters: p, learningRate: lr, weightDecay: 0.05) : Adam(parameters: p, learningRate: lr, weightDecay: 0.05)
            }
            let adam = make(grouped, 1e-3)
            adam.parameterLearningRates = ["fc.weight": 0.02]
            let reference = make(Array(alone[1...]), 0.02), base = make(Array(alone[..<1]), 1e-3)
            for _ in 0..<3 { adam.step(); reference.step(); base.step() }
            XCTAssertEqual(grouped[1].tensor.toArray(), alone[1].tensor.toArray(), "AdamW \(decoupled)")
            XCTAssertEqual(grouped[0].tensor.toArray(), alone[0].tensor.toArray(), "AdamW \(decoupled)")
            XCTAssertNotEqual(grouped[1].tensor.toArray(), fcValues)
        }
    }

    /// In a run, the schedule (warmup then cosine) scales the head's base rate as it scales --lr's,
    /// and the last step of the epoch used both.
    func testTheScheduleScalesBothRates() throws {
        var s = settings(data: try makeDataset("data"), epochs: 2)
        s.warmupEpochs = 1
        s.headLR = 0.5
        let trainer = try Trainer.start(s, runDirectory: path("run"), say: { _ in })
        XCTAssertEqual(trainer.headParameters, ["fc.weight", "fc.bias"])
        let schedule = LRSchedule.warmup(epochs: 1, startFactor: 0.1, then: .cosine(epochs: 2, minimum: 0))
        for (epoch, step) in [(0, 0), (0, 2), (1, 1)] {
            XCTAssertEqual(trainer.learningRate(epoch: epoch, batch: step, base: 0.5),
                           schedule.learningRate(base: 0.5, epoch: epoch, step: step, stepsPerEpoch: 3))
            XCTAssertEqual(trainer.learningRate(epoch: epoch, batch: step),
                           schedule.learningRate(base: 0.05, epoch: epoch, step: step, stepsPerEpoch: 3))
        }
        try trainer.fit()
        // 24 images in batches of 8: the last step is step 2 of epoch 1.
        XCTAssertEqual(trainer.optimizer.learningRate, schedule.learningRate(base: 0.05, epoch: 1, step: 2, stepsPerEpoch: 3))
        XCTAssertEqual(trainer.optimizer.parameterLearningRates,
                       ["fc.weight": schedule.learningRate(base: 0.5, epoch: 1, step: 2, stepsPerEpoch: 3),
                        "fc.bias": schedule.learningRate(base: 0.5, epoch: 1, step: 2, stepsPerEpoch: 3)])

        var bad = s
        for value: Float in [0, -1, .nan, .infinity] {
            bad.headLR = value
            XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".hasPrefix("--head-lr must be a positive, finite number"), "\($0)") }
        }
    }
}
