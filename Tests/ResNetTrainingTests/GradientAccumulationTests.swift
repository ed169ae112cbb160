import Foundation
@testable import ResNetTraining
import XCTest

/// `--accumulate K` (Goyal et al. 2017) and `--clip-grad-norm MAX` (torch's clip_grad_norm_):
/// K micro-batches give the gradient of one K-times-larger batch, clipping scales by the global
/// norm as worked by hand, and the trainer's schedule counts optimizer steps.
final class GradientAccumulationTests: TrainerTestCase {
    /// The gradients of every parameter, by name.
    private func gradients(_ model: ResNet) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: model.trainableParameters.compactMap { p in p.tensor.grad.map { (p.name, $0.toArray()) } })
    }

    /// With batch norm frozen (inference statistics, so a sample's output does not depend on its
    /// batch), micro-batches of 4 + 4 and of 3 + 5 images give the gradient of the batch of 8 within 1e-5.
    func testMicroBatchesEqualOneLargeBatchWithBNFrozen() throws {
        let model = try model("resnet20", seed: 5, classes: 3)
        for case let bn as BatchNorm2D in model.modules { bn.freeze() }
        // Running statistics that are not the identity, so the frozen BN does something.
        for case let bn as BatchNorm2D in model.modules {
            bn.runningMean.assign(Tensor.randomUniform(bn.runningMean.shape, low: -0.1, high: 0.1, seed: 3))
            bn.runningVar.assign(Tensor.randomUniform(bn.runningVar.shape, low: 0.5, high: 2, seed: 4))
        }
        let (n, side) = (8, 12), per = side * side * 3
        let x = Tensor.randomNormal([n, side, side, 3], seed: 9).toArray()
        let labels: [Int32] = [0, 2, 1, 1, 0, 2, 2, 1]
        func slice(_ r: Range<Int>) -> (Tensor, LabelTensor) {
            (Tensor(shape: [r.count, side, side, 3], values: Array(x[(r.lowerBound * per)..<(r.upperBound * per)])), LabelTensor(Array(labels[r])))
        }
        let params = model.trainableParameters
        XCTAssertFalse(params.isEmpty)

        let (all, allLabels) = slice(0..<n)
        crossEntropy(model(all), labels: allLabels).backward()
        let reference = gradients(model)
        XCTAssertEqual(reference.count, params.count, "every trainable parameter has a gradient")
        model.trainableParameters.forEach { $0.tensor.zeroGradient() }

        for split in [[0..<4, 4..<8], [0..<3, 3..<8]] {
            var accumulation = GradientAccumulation(microBatches: split.count)
            for r in split {
                let (xs, ys) = slice(r)
                accumulation.backward(crossEntropy(model(xs), labels: ys), count: r.count)
            }
            XCTAssertTrue(accumulation.isComplete)
            XCTAssertEqual(accumulation.images, 8)
            accumulation.finish(params)
            XCTAssertEqual(accumulation.pending, 0, "a new group starts")
            let accumulated = gradients(model)
            var worst = (name: "", diff: Float(0))
            for (name, g) in reference {
                let a = try XCTUnwrap(accumulated[name], name)
                let diff = zip(g, a).map { abs($0 - $1) }.max() ?? 0
                if diff > worst.diff { worst = (name, diff) }
            }
            XCTAssertLessThanOrEqual(worst.diff, 1e-5, "split \(split): worst \(worst.name)")
            XCTAssertGreaterThan(reference.values.flatMap { $0 }.map(abs).max() ?? 0, 1e-3, "the gradients are not all ~0")
            model.trainableParameters.forEach { $0.tensor.zeroGradient() }
        }
    }

    /// Norm of (3, 4) and (12) together is 13: clipped to 6.5 every gradient is halved (times
    /// 6.5 / (13 + 1e-6), torch's coefficient); a max above 13 changes nothing; frozen ones are skipped.
    func testClippingScalesByTheGlobalNorm() {
        let a = Tensor(shape: [2], values: [0, 0], requiresGrad: true), b = Tensor(shape: [1, 1], values: [0], requiresGrad: true)
        let frozen = Tensor(shape: [1], values: [0])
        a.grad = Tensor(shape: [2], values: [3, 4])
        b.grad = Tensor(shape: [1, 1], values: [-12])
        let params = [(name: "a", tensor: a), (name: "b", tensor: b), (name: "frozen", tensor: frozen)]
        XCTAssertEqual(GradientClipping.clip(params, maxNorm: 20), 13, accuracy: 1e-9)
        XCTAssertEqual(a.grad!.toArray(), [3, 4], "below the max: untouched")
        XCTAssertEqual(b.grad!.toArray(), [-12])
        XCTAssertEqual(GradientClipping.clip(params, maxNorm: 6.5), 13, accuracy: 1e-9)
        let c = Float(6.5 / (13 + 1e-6))
        XCTAssertEqual(a.grad!.toArray()[0], 3 * c, accuracy: 1e-6)
        XCTAssertEqual(a.grad!.toArray()[1], 4 * c, accuracy: 1e-6)
        XCTAssertEqual(b.grad!.toArray()[0], -12 * c, accuracy: 1e-6)
        XCTAssertEqual(a.grad!.toArray()[0], 1.5, accuracy: 1e-6)
        XCTAssertEqual(GradientArithmetic.sumOfSquares(params).squareRoot(), 6.5, accuracy: 1e-5, "the new norm is the max")
        XCTAssertNil(frozen.grad)
    }

    /// 24 images in batches of 8 are 3 batches an epoch: with --accumulate 2, 2 optimizer steps
    /// (2 batches, then the last one alone), and the schedule spans those 2 steps.
    func testTheTrainerStepsOncePerGroupAndTheScheduleCountsSteps() throws {
        let data = try makeDataset("data")
        var s = settings(data: data, epochs: 2)
        s.accumulate = 2
        let dir = path("run")
        let trainer = try Trainer.start(s, runDirectory: dir, say: { _ in })
        XCTAssertEqual(trainer.data.train.batchesPerEpoch, 3)
        XCTAssertEqual(trainer.stepsPerEpoch, 2)
        // Cosine over 2 epochs of 2 steps: step 1 of epoch 1 is a quarter of the way.
        let cosine = try LRSchedule(parsing: "cosine", totalEpochs: 2)
        XCTAssertEqual(trainer.learningRate(epoch: 0, batch: 1), cosine.learningRate(base: 0.05, epoch: 0, step: 1, stepsPerEpoch: 2))
        try trainer.fit()
        let info = try RunDirectory(dir).loadInfo()
        XCTAssertEqual(info.step, 4, "2 optimizer steps per epoch")
        XCTAssertEqual(info.settings.accumulate, 2)
    }
}
