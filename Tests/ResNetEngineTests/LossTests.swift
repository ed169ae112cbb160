import XCTest
@testable import ResNetEngine

/// Softmax and cross-entropy: values against the float64 reference and hand formulas, integer
/// labels against one-hot targets, label smoothing, and their gradients; `sum`.
final class LossTests: XCTestCase {
    func testSoftmaxRowsSumToOneAndMatchReference() {
        let x = randomDArray([4, 7], seed: 1, std: 3)
        let p = softmax(x.tensor())
        assertClose(p, refSoftmax(x), tolerance: 1e-6, "softmax")
        for r in 0..<4 { XCTAssertEqual(p.toArray()[(r * 7)..<((r + 1) * 7)].reduce(0, +), 1, accuracy: 1e-6) }
        XCTAssertTrue(p.toArray().allSatisfy { $0 > 0 && $0 < 1 })
        // Shift invariance, and no overflow on large logits.
        let big = softmax(DArray(shape: [1, 3], data: [1000, 1001, 1002]).tensor())
        let small = softmax(DArray(shape: [1, 3], data: [0, 1, 2]).tensor())
        for j in 0..<3 { XCTAssertEqual(big.toArray()[j], small.toArray()[j], accuracy: 1e-6) }
    }

    func testSoftmaxGradient() {
        GradientCheck.check("softmax", inputs: [randomDArray([3, 5], seed: 2, std: 2)],
                            engine: { softmax($0[0]) }, reference: { refSoftmax($0[0]) })
    }

    func testLabelsEqualOneHotTargets() {
        let x = randomDArray([5, 4], seed: 3, std: 2)
        let labels: [Int32] = [0, 3, 1, 1, 2]
        var oneHot = DArray(zeros: [5, 4])
        for (i, l) in labels.enumerated() { oneHot.data[i * 4 + Int(l)] = 1 }
        let a = x.tensor(requiresGrad: true), b = x.tensor(requiresGrad: true)
        let withLabels = crossEntropy(a, labels: LabelTensor(labels))
        let withTargets = crossEntropy(b, targets: oneHot.tensor())
        XCTAssertEqual(withLabels.shape, [])
        XCTAssertEqual(withLabels.scalar, withTargets.scalar, accuracy: 1e-6)
        XCTAssertEqual(Double(withLabels.scalar), refCrossEntropy(x, targets: oneHot), accuracy: 1e-5)
        // By hand: mean of -log softmax(x)[label].
        let p = refSoftmax(x)
        let hand = -labels.enumerated().map { Foundation.log(p.data[$0.offset * 4 + Int($0.element)]) }.reduce(0, +) / 5
        XCTAssertEqual(Double(withLabels.scalar), hand, accuracy: 1e-5)
        withLabels.backward(); withTargets.backward()
        XCTAssertEqual(a.grad!.toArray(), b.grad!.toArray())
        // d/dx = (softmax - one-hot) / N.
        assertClose(a.grad!, DArray(shape: [5, 4], data: (0..<20).map { (p.data[$0] - oneHot.data[$0]) / 5 }), tolerance: 1e-5, "gradient")
    }

    func testLabelSmoothingMatchesHandFormula() {
        let x = randomDArray([3, 5], seed: 4, std: 2)
        let labels: [Int32] = [4, 0, 2]
        let eps = 0.1, k = 5.0
        let logp = refSoftmax(x).data.map { Foundation.log($0) }
        // (1 - ε) * CE(one-hot) + ε * mean_j(-log p_j), averaged over rows.
        var hand = 0.0
        for r in 0..<3 {
            let nll = -logp[r * 5 + Int(labels[r])]
            let uniform = -(0..<5).map { logp[r * 5 + $0] }.reduce(0, +) / k
            hand += (1 - eps) * nll + eps * uniform
        }
        hand /= 3
        let smoothed = crossEntropy(x.tensor(), labels: LabelTensor(labels), labelSmoothing: Float(eps))
        XCTAssertEqual(Double(smoothed.scalar), hand, accuracy: 1e-5)
        XCTAssertGreaterThan(abs(hand - Double(crossEntropy(x.tensor(), labels: LabelTensor(labels)).scalar)), 1e-3, "smoothing must change the loss")
        // The targets form with smoothing agrees with the labels form.
        var oneHot = DArray(zeros: [3, 5])
        for (i, l) in labels.enumerated() { oneHot.data[i * 5 + Int(l)] = 1 }
        XCTAssertEqual(crossEntropy(x.tensor(), targets: oneHot.tensor(), labelSmoothing: Float(eps)).scalar, smoothed.scalar, accuracy: 1e-6)
    }

    func testCrossEntropyGradients() {
        let labels: [Int32] = [1, 0, 3]
        func targets(_ eps: Double) -> DArray {
            var t = DArray(shape: [3, 4], data: [Double](repeating: eps / 4, count: 12))
            for (i, l) in labels.enumerated() { t.data[i * 4 + Int(l)] += 1 - eps }
            return t
        }
        let x = randomDArray([3, 4], seed: 5, std: 2)
        GradientCheck.check("crossEntropy labels", inputs: [x],
                            engine: { crossEntropy($0[0], labels: LabelTensor(labels)) },
                            reference: { DArray(shape: [], data: [refCrossEntropy($0[0], targets: targets(0))]) })
        GradientCheck.check("crossEntropy labels, smoothing 0.2", inputs: [x],
                            engine: { crossEntropy($0[0], labels: LabelTensor(labels), labelSmoothing: 0.2) },
                            reference: { DArray(shape: [], data: [refCrossEntropy($0[0], targets: targets(0.2))]) })
        let soft = refSoftmax(randomDArray([3, 4], seed: 6))
        GradientCheck.check("crossEntropy soft targets", inputs: [x],
                            engine: { crossEntropy($0[0], targets: soft.tensor()) },
                            reference: { DArray(shape: [], data: [refCrossEntropy($0[0], targets: soft)]) })
    }

    func testSumGradient() {
        let x = randomDArray([2, 3, 4], seed: 7)
        GradientCheck.check("sum", inputs: [x], engine: { sum($0[0]) }, reference: { DArray(shape: [], data: [$0[0].data.reduce(0, +)]) })
        XCTAssertEqual(Double(sum(x.tensor()).scalar), x.data.reduce(0, +), accuracy: 1e-5)
    }
}
