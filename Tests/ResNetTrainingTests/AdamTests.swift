import ResNetEngine
@testable import ResNetTraining
import XCTest

/// Adam and AdamW against torch.optim's formulas worked through in double precision:
/// p0 = [1, 2, 3], g1 = [0.5, -1, 2], g2 = [1, 0, -0.5], lr 0.1, betas (0.9, 0.999), eps 1e-8.
/// update_t = lr/(1-0.9^t) · m_t / (sqrt(v_t)/sqrt(1-0.999^t) + eps).
final class AdamTests: XCTestCase {
    func testAdam() {
        let adam = Adam(parameters: [TwoStepExample.parameter()], learningRate: 0.1)
        let steps = TwoStepExample.run(adam)
        // t=1: m = 0.1·g1, v = 0.001·g1², so m̂ = g1, sqrt(v̂) = |g1|: update = 0.1·sign(g1) (eps shifts it by ~2e-9)
        assertClose(steps[0], [0.9, 2.1, 2.9])
        // t=2: m = 0.9·m1 + 0.1·g2 = [0.145, -0.09, 0.13]; v = 0.999·v1 + 0.001·g2² = [0.00124975, 0.000999, 0.004246]
        // 1 - 0.9² = 0.19, 1 - 0.999² = 0.001999: m̂ = [0.763158, -0.473684, 0.684211], sqrt(v̂) = [0.790688, 0.706930, 1.457416]
        // update = 0.1·m̂/sqrt(v̂) = [0.0965182, -0.0670058, 0.0469468]; p2 = p1 - update
        assertClose(steps[1], [0.8034818, 2.1670058, 2.8530532], accuracy: 1e-5)
        let state = adam.state
        XCTAssertEqual(state["fc.bias.step"]!.toArray(), [2])
        assertClose(state["fc.bias.exp_avg"]!.toArray(), [0.145, -0.09, 0.13])
        assertClose(state["fc.bias.exp_avg_sq"]!.toArray(), [0.00124975, 0.000999, 0.004246], accuracy: 1e-7) // float32 1 - 0.999 is off by ~1e-5 relative
    }

    func testAdamL2WeightDecayJoinsTheGradient() {
        let adam = Adam(parameters: [TwoStepExample.parameter()], learningRate: 0.1, weightDecay: 0.1)
        let steps = TwoStepExample.run(adam)
        // t=1: g = g1 + 0.1·p0 = [0.6, -0.8, 2.3], same signs as g1, so again p1 = p0 - 0.1·sign(g)
        assertClose(steps[0], [0.9, 2.1, 2.9])
        // t=2: g = g2 + 0.1·p1 = [1.09, 0.21, -0.21]; m = [0.054 + 0.109, -0.072 + 0.021, 0.207 - 0.021] = [0.163, -0.051, 0.186]
        // v = 0.999·[0.00036, 0.00064, 0.00529] + 0.001·g² = [0.00154774, 0.00068346, 0.00532881]
        // update = 0.1·(m/0.19)/sqrt(v/0.001999) = [0.0974970, -0.0459057, 0.0599585]
        assertClose(steps[1], [0.8025030, 2.1459057, 2.8400415], accuracy: 1e-5)
    }

    func testAdamW() {
        let adamW = AdamW(parameters: [TwoStepExample.parameter()], learningRate: 0.1, weightDecay: 0.1)
        let steps = TwoStepExample.run(adamW)
        // t=1: p *= 1 - 0.1·0.1 = 0.99 → [0.99, 1.98, 2.97]; then the Adam step 0.1·sign(g1)
        assertClose(steps[0], [0.89, 2.08, 2.87])
        // t=2: p *= 0.99 → [0.8811, 2.0592, 2.8413]; the moments ignore decay, so the update is Adam's t=2 one
        // [0.0965182, -0.0670058, 0.0469468]
        assertClose(steps[1], [0.7845818, 2.1262058, 2.7943532], accuracy: 1e-5)
    }

    func testAdamWDefaultsFollowPyTorch() {
        let adamW = AdamW(parameters: [TwoStepExample.parameter()])
        XCTAssertEqual(adamW.weightDecay, 0.01)
        XCTAssertEqual(adamW.learningRate, 1e-3)
        XCTAssertEqual(adamW.epsilon, 1e-8)
        XCTAssertEqual(Adam(parameters: []).weightDecay, 0)
    }

    func testAdamWFilterSkipsBias() {
        let conv = TwoStepExample.parameter("conv1.weight", shape: [3, 1, 1, 1])
        let bias = TwoStepExample.parameter("conv1.bias")
        let adamW = AdamW(parameters: [conv, bias], learningRate: 0.1, weightDecay: 0.1, decayFilter: .weightsOnly)
        _ = TwoStepExample.run(adamW)
        assertClose(conv.tensor.toArray(), [0.7845818, 2.1262058, 2.7943532], accuracy: 1e-5, "decayed as testAdamW")
        assertClose(bias.tensor.toArray(), [0.8034818, 2.1670058, 2.8530532], accuracy: 1e-5, "undecayed as testAdam")
    }

    func testFrozenParameterKeepsItsOwnStepCount() {
        let a = TwoStepExample.parameter("fc.weight", shape: [1, 3])
        let b = TwoStepExample.parameter("fc.bias")
        let adam = Adam(parameters: [a, b], learningRate: 0.1)
        a.tensor.grad = Tensor(shape: [1, 3], values: [1, 1, 1])
        adam.step()
        XCTAssertEqual(adam.state["fc.weight.step"]!.toArray(), [1])
        XCTAssertEqual(adam.state["fc.bias.step"]!.toArray(), [0], "frozen: no step, as PyTorch's per-parameter state")
        XCTAssertEqual(b.tensor.toArray(), TwoStepExample.initial)
    }
}
