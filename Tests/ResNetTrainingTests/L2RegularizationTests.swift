import ResNetEngine
@testable import ResNetTraining
import XCTest

/// TF-slim's l2_regularizer on conv weights: loss = scale·sum(w²)/2, gradient scale·w.
final class L2RegularizationTests: XCTestCase {
    func testGradientAndLossOnConvWeightsOnly() {
        let conv = TwoStepExample.parameter("conv1.weight", shape: [3, 1, 1, 1])
        let bn = TwoStepExample.parameter("bn1.weight")
        let fc = TwoStepExample.parameter("fc.weight", shape: [1, 3])
        let all = [conv, bn, fc]
        for (_, t) in all { t.grad = Tensor(shape: t.shape, values: [0.5, -1, 2]) }
        let l2 = L2Regularization()
        XCTAssertEqual(l2.scale, 1e-4)
        l2.addGradients(to: all)
        // conv: g + 1e-4·w = [0.5 + 0.0001, -1 + 0.0002, 2 + 0.0003]
        assertClose(conv.tensor.grad!.toArray(), [0.5001, -0.9998, 2.0003])
        XCTAssertEqual(bn.tensor.grad!.toArray(), [0.5, -1, 2])
        XCTAssertEqual(fc.tensor.grad!.toArray(), [0.5, -1, 2])
        // loss = 1e-4·(1 + 4 + 9)/2 = 7e-4, conv weights only
        XCTAssertEqual(l2.loss(all), 7e-4, accuracy: 1e-10)
        XCTAssertEqual(L2Regularization(scale: 1e-4, filter: .weightsOnly).loss(all), 1.4e-3, accuracy: 1e-10)
    }

    func testMatchesSGDWeightDecayWithConvFilter() {
        let a = TwoStepExample.parameter("conv1.weight", shape: [3, 1, 1, 1])
        let b = TwoStepExample.parameter("conv1.weight", shape: [3, 1, 1, 1])
        let regularized = SGD(parameters: [a], learningRate: 0.1, momentum: 0.9)
        let decayed = SGD(parameters: [b], learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4, decayFilter: .convWeightsOnly)
        for g in TwoStepExample.gradients {
            a.tensor.grad = Tensor(shape: [3, 1, 1, 1], values: g)
            b.tensor.grad = Tensor(shape: [3, 1, 1, 1], values: g)
            L2Regularization().addGradients(to: [a])
            regularized.step()
            decayed.step()
        }
        assertClose(a.tensor.toArray(), b.tensor.toArray())
    }

    func testFrozenParameterGetsNoGradient() {
        let conv = TwoStepExample.parameter("conv1.weight", shape: [3, 1, 1, 1])
        L2Regularization().addGradients(to: [conv])
        XCTAssertNil(conv.tensor.grad)
    }

    func testFilters() {
        let conv = Tensor(zeros: [2, 2, 3, 3]), fc = Tensor(zeros: [10, 4]), bias = Tensor(zeros: [4])
        XCTAssertEqual([conv, fc, bias].map(WeightDecayFilter.all.applies), [true, true, true])
        XCTAssertEqual([conv, fc, bias].map(WeightDecayFilter.convWeightsOnly.applies), [true, false, false])
        XCTAssertEqual([conv, fc, bias].map(WeightDecayFilter.weightsOnly.applies), [true, true, false])
    }
}
