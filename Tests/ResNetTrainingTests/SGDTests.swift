import ResNetEngine
@testable import ResNetTraining
import XCTest

/// SGD against torch.optim.SGD's update worked by hand: p0 = [1, 2, 3], g1 = [0.5, -1, 2], g2 = [1, 0, -0.5], lr 0.1.
final class SGDTests: XCTestCase {
    func testPlainSGD() {
        let sgd = SGD(parameters: [TwoStepExample.parameter()], learningRate: 0.1)
        let steps = TwoStepExample.run(sgd)
        // p1 = p0 - 0.1·g1 = [1 - 0.05, 2 + 0.1, 3 - 0.2]
        assertClose(steps[0], [0.95, 2.1, 2.8])
        // p2 = p1 - 0.1·g2 = [0.95 - 0.1, 2.1 - 0, 2.8 + 0.05]
        assertClose(steps[1], [0.85, 2.1, 2.85])
        XCTAssertTrue(sgd.state.isEmpty, "no momentum, no state")
    }

    func testMomentum() {
        let sgd = SGD(parameters: [TwoStepExample.parameter()], learningRate: 0.1, momentum: 0.9)
        let steps = TwoStepExample.run(sgd)
        // buf1 = g1 = [0.5, -1, 2]; p1 = p0 - 0.1·buf1
        assertClose(steps[0], [0.95, 2.1, 2.8])
        // buf2 = 0.9·buf1 + g2 = [0.45 + 1, -0.9 + 0, 1.8 - 0.5] = [1.45, -0.9, 1.3]
        // p2 = p1 - 0.1·buf2 = [0.95 - 0.145, 2.1 + 0.09, 2.8 - 0.13]
        assertClose(steps[1], [0.805, 2.19, 2.67])
        assertClose(sgd.state["fc.bias.momentum_buffer"]!.toArray(), [1.45, -0.9, 1.3])
    }

    func testNesterov() {
        let sgd = SGD(parameters: [TwoStepExample.parameter()], learningRate: 0.1, momentum: 0.9, nesterov: true)
        let steps = TwoStepExample.run(sgd)
        // buf1 = g1; d1 = g1 + 0.9·buf1 = 1.9·g1 = [0.95, -1.9, 3.8]; p1 = p0 - 0.1·d1 = [1 - 0.095, 2 + 0.19, 3 - 0.38]
        assertClose(steps[0], [0.905, 2.19, 2.62])
        // buf2 = [1.45, -0.9, 1.3]; d2 = g2 + 0.9·buf2 = [1 + 1.305, 0 - 0.81, -0.5 + 1.17] = [2.305, -0.81, 0.67]
        // p2 = p1 - 0.1·d2 = [0.905 - 0.2305, 2.19 + 0.081, 2.62 - 0.067]
        assertClose(steps[1], [0.6745, 2.271, 2.553])
    }

    func testWeightDecay() {
        let sgd = SGD(parameters: [TwoStepExample.parameter()], learningRate: 0.1, weightDecay: 0.1)
        let steps = TwoStepExample.run(sgd)
        // d1 = g1 + 0.1·p0 = [0.5 + 0.1, -1 + 0.2, 2 + 0.3] = [0.6, -0.8, 2.3]; p1 = p0 - 0.1·d1 = [1 - 0.06, 2 + 0.08, 3 - 0.23]
        assertClose(steps[0], [0.94, 2.08, 2.77])
        // d2 = g2 + 0.1·p1 = [1 + 0.094, 0 + 0.208, -0.5 + 0.277] = [1.094, 0.208, -0.223]
        // p2 = p1 - 0.1·d2 = [0.94 - 0.1094, 2.08 - 0.0208, 2.77 + 0.0223]
        assertClose(steps[1], [0.8306, 2.0592, 2.7923])
    }

    func testMomentumWithWeightDecay() {
        let sgd = SGD(parameters: [TwoStepExample.parameter()], learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
        let steps = TwoStepExample.run(sgd)
        // buf1 = d1 = [0.6, -0.8, 2.3]; p1 = [0.94, 2.08, 2.77]
        assertClose(steps[0], [0.94, 2.08, 2.77])
        // d2 = [1.094, 0.208, -0.223]; buf2 = 0.9·buf1 + d2 = [0.54 + 1.094, -0.72 + 0.208, 2.07 - 0.223] = [1.634, -0.512, 1.847]
        // p2 = p1 - 0.1·buf2 = [0.94 - 0.1634, 2.08 + 0.0512, 2.77 - 0.1847]
        assertClose(steps[1], [0.7766, 2.1312, 2.5853])
    }

    func testConvWeightsOnlyLeavesBiasUndecayed() {
        let conv = TwoStepExample.parameter("conv1.weight", shape: [3, 1, 1, 1])
        let bias = TwoStepExample.parameter("fc.bias")
        let sgd = SGD(parameters: [conv, bias], learningRate: 0.1, weightDecay: 0.1, decayFilter: .convWeightsOnly)
        _ = TwoStepExample.run(sgd)
        assertClose(conv.tensor.toArray(), [0.8306, 2.0592, 2.7923], "conv weight decays (as testWeightDecay)")
        assertClose(bias.tensor.toArray(), [0.85, 2.1, 2.85], "bias does not (as testPlainSGD)")
    }

    func testFrozenParameterIsSkipped() {
        let trained = TwoStepExample.parameter("fc.weight", shape: [1, 3])
        let frozen = TwoStepExample.parameter("fc.bias")
        let sgd = SGD(parameters: [trained, frozen], learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
        trained.tensor.grad = Tensor(shape: [1, 3], values: [1, 1, 1])
        sgd.step()
        XCTAssertEqual(frozen.tensor.toArray(), TwoStepExample.initial, "no grad, no update, not even decay")
        XCTAssertEqual(sgd.state["fc.bias.momentum_buffer"]!.toArray(), [0, 0, 0])
        XCTAssertNotEqual(trained.tensor.toArray(), TwoStepExample.initial)
        sgd.zeroGrad()
        XCTAssertNil(trained.tensor.grad)
    }

    func testLargeParameterMatchesScalarFormula() {
        // Big enough for parallelChunks to split across cores; every element must still get the formula.
        let n = 100_003
        let values = (0..<n).map { Float($0 % 17) - 8 }
        let parameter = TwoStepExample.parameter("layer4.0.conv2.weight", shape: [n, 1, 1, 1], values: values)
        let sgd = SGD(parameters: [parameter], learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01)
        parameter.tensor.grad = Tensor(shape: [n, 1, 1, 1], values: values.map { $0 * 0.5 })
        sgd.step()
        // d = 0.5·p + 0.01·p = 0.51·p; buf = d; p -= 0.1·(d + 0.9·d) = p·(1 - 0.1·1.9·0.51) = p·0.9031
        assertClose(parameter.tensor.toArray(), values.map { $0 * 0.9031 }, accuracy: 1e-5)
    }
}
