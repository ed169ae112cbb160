import XCTest
@testable import ResNetEngine

/// End to end: a small conv net (conv-bn-relu-conv-bn-relu-globalAvgPool-linear) trained with plain
/// SGD (p -= lr * grad, written here) memorizes one fixed batch of 16 random 12x12x3 images with
/// 4 random labels. Loss must start above 1 (≈ ln 4 = 1.386 at initialization) and fall below
/// 0.05 within 150 steps.
final class OverfitTests: XCTestCase {
    static let steps = 150
    static let targetLoss: Float = 0.05

    func testSmallConvNetOverfitsOneBatch() {
        let width = 16, classes = 4
        let images = Tensor.randomNormal([16, 12, 12, 3], seed: 1)
        var g = SeededGenerator(seed: 2)
        let labels = LabelTensor((0..<16).map { _ in Int32(g.next() % UInt64(classes)) })

        // He-normal convolutions, BN scale 1 / shift 0, a small linear head.
        let w1 = Tensor.randomNormal([width, 3, 3, 3], std: (2.0 / 27).squareRoot(), seed: 3)
        let w2 = Tensor.randomNormal([width, width, 3, 3], std: (2.0 / Float(9 * width)).squareRoot(), seed: 4)
        let fc = Tensor.randomNormal([classes, width], std: 0.01, seed: 5)
        let fcBias = Tensor(zeros: [classes])
        let gamma1 = Tensor(repeating: 1, shape: [width]), beta1 = Tensor(zeros: [width])
        let gamma2 = Tensor(repeating: 1, shape: [width]), beta2 = Tensor(zeros: [width])
        let stats1 = BatchNormStatistics(mean: Tensor(zeros: [width]), variance: Tensor(repeating: 1, shape: [width]))
        let stats2 = BatchNormStatistics(mean: Tensor(zeros: [width]), variance: Tensor(repeating: 1, shape: [width]))
        let parameters = [w1, w2, fc, fcBias, gamma1, beta1, gamma2, beta2]
        for p in parameters { p.requiresGrad = true }

        func loss() -> Tensor {
            var h = conv2d(images, w1, padding: .same)
            h = batchNorm(h, scale: gamma1, shift: beta1, statistics: stats1, training: true, relu: true)
            h = conv2d(h, w2, stride: 2, padding: .same)
            h = batchNorm(h, scale: gamma2, shift: beta2, statistics: stats2, training: true, relu: true)
            return crossEntropy(linear(globalAvgPool(h), fc, bias: fcBias), labels: labels)
        }

        let lr: Float = 0.5
        var first: Float = 0, last: Float = .infinity, steps = 0
        for step in 0..<Self.steps {
            for p in parameters { p.zeroGradient() }
            let l = loss()
            if step == 0 { first = l.scalar }
            last = l.scalar
            steps = step
            if last < Self.targetLoss { break }
            l.backward()
            for p in parameters {
                let grad = p.grad!
                p.withMutableHostValues { p in grad.withHostValues { g in for i in p.indices { p[i] -= lr * g[i] } } }
            }
        }
        print("overfit: loss \(first) -> \(last) in \(steps) steps")
        XCTAssertGreaterThan(first, 1, "the untrained network should be near chance (ln 4 ≈ 1.39)")
        XCTAssertLessThan(last, Self.targetLoss, "loss \(last) after \(steps) steps (started at \(first))")
    }
}
