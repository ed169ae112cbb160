import XCTest
@testable import ResNetEngine

/// The tape: gradient accumulation, fan-out, no-grad mode, and freeing the graph after backward.
final class AutodiffTests: XCTestCase {
    func testGradientsAccumulateAcrossBackwardCalls() {
        let w = randomDArray([3, 4], seed: 1), x = randomDArray([2, 4], seed: 2), r = randomDArray([2, 3], seed: 3)
        let weight = w.tensor(requiresGrad: true)
        let expected = refLinearBackward(r, x, w).dw
        sum(multiply(linear(x.tensor(), weight), r.tensor())).backward()
        assertClose(weight.grad!, expected, tolerance: 1e-5, "first backward")
        sum(multiply(linear(x.tensor(), weight), r.tensor())).backward()
        assertClose(weight.grad!, DArray(shape: expected.shape, data: expected.data.map { 2 * $0 }), tolerance: 1e-5,
                    "second backward adds to grad")
        weight.zeroGradient()
        XCTAssertNil(weight.grad)
        sum(multiply(linear(x.tensor(), weight), r.tensor())).backward()
        assertClose(weight.grad!, expected, tolerance: 1e-5, "after zeroGradient")
    }

    func testGradientDoesNotAliasTheSeed() {
        // add passes the same dy buffer to both inputs; grad must be a private copy, so later
        // in-place accumulation into one leaf does not leak into the other.
        let a = Tensor(zeros: [4], requiresGrad: true), b = Tensor(zeros: [4], requiresGrad: true)
        (a + b).backward(seed: Tensor(shape: [4], values: [1, 2, 3, 4]))
        XCTAssertEqual(a.grad!.toArray(), [1, 2, 3, 4])
        XCTAssertFalse(a.grad!.storage === b.grad!.storage)
        a.backward(seed: Tensor(shape: [4], values: [1, 1, 1, 1]))   // a leaf's own backward accumulates
        XCTAssertEqual(a.grad!.toArray(), [2, 3, 4, 5])
        XCTAssertEqual(b.grad!.toArray(), [1, 2, 3, 4])
    }

    func testTensorUsedTwiceGetsTheSummedGradient() {
        // x + x: both edges reach the same leaf.
        let x = randomDArray([2, 5], seed: 4), r = randomDArray([2, 5], seed: 5)
        let xt = x.tensor(requiresGrad: true)
        sum(multiply(xt + xt, r.tensor())).backward()
        assertClose(xt.grad!, DArray(shape: r.shape, data: r.data.map { 2 * $0 }), tolerance: 1e-6, "x + x")

        // An intermediate used twice: h = relu(x); y = h + h * 3 → dy/dx = 4 r where x > 0.
        let x2 = x.tensor(requiresGrad: true)
        let h = relu(x2)
        sum(multiply(h + h * Float(3), r.tensor())).backward()
        let expected = DArray(shape: x.shape, data: zip(x.data, r.data).map { $0 > 0 ? 4 * $1 : 0 })
        assertClose(x2.grad!, expected, tolerance: 1e-6, "shared intermediate")

        // A weight shared by two layers: y = W (W x) → dL/dW is the sum of both uses' contributions.
        GradientCheck.check("shared weight", inputs: [randomDArray([2, 3], seed: 6), randomDArray([3, 3], seed: 7)],
                            engine: { linear(linear($0[0], $0[1]), $0[1]) },
                            reference: { refLinear(refLinear($0[0], $0[1]), $0[1]) })
    }

    func testWithoutGradientRecordsNothing() {
        let x = randomDArray([2, 5, 5, 3], seed: 8).tensor(requiresGrad: true)
        let w = randomDArray([4, 3, 3, 3], seed: 9).tensor(requiresGrad: true)
        let stats = BatchNormStatistics(mean: Tensor(zeros: [4]), variance: Tensor(repeating: 1, shape: [4]))
        let scale = Tensor(shape: [4], values: [1, 1, 1, 1], requiresGrad: true), shift = Tensor(zeros: [4], requiresGrad: true)
        let fc = randomDArray([2, 4], seed: 10).tensor(requiresGrad: true)
        XCTAssertTrue(GradMode.isEnabled)
        let outputs: [Tensor] = GradMode.withoutGradient {
            XCTAssertFalse(GradMode.isEnabled)
            let c = conv2d(x, w, padding: .same)
            let b = batchNorm(c, scale: scale, shift: shift, statistics: stats, training: true, relu: true)
            let p = maxPool2d(b, kernel: 3, stride: 2, padding: .same)
            let g = globalAvgPool(p)
            let l = linear(g, fc)
            return [c, b, p, g, l, relu(l), l + l, l * Float(2), softmax(l), crossEntropy(l, labels: LabelTensor([0, 1])), sum(l)]
        }
        XCTAssertTrue(GradMode.isEnabled, "the previous mode comes back")
        for (i, o) in outputs.enumerated() { XCTAssertNil(o.gradFn, "output \(i) was recorded in no-grad mode") }
        // The same graph records when enabled.
        XCTAssertNotNil(conv2d(x, w, padding: .same).gradFn)
        // Nested: the inner call restores "disabled", the outer restores "enabled".
        GradMode.withoutGradient {
            GradMode.withoutGradient { }
            XCTAssertFalse(GradMode.isEnabled)
        }
        XCTAssertTrue(GradMode.isEnabled)
    }

    /// Runs a small conv/bn/pool/linear step; returns the bytes alive just before backward.
    private func trainingStep(_ x: Tensor, _ w: Tensor, _ fc: Tensor, _ stats: BatchNormStatistics, _ shift: Tensor) -> Int {
        let c = conv2d(x, w, padding: .same)
        let b = batchNorm(c, scale: nil, shift: shift, statistics: stats, training: true, relu: true)
        let p = maxPool2d(b, kernel: 3, stride: 2, padding: .same)
        let loss = crossEntropy(linear(globalAvgPool(p), fc), labels: LabelTensor([0, 1]))
        let before = EngineContext.current.memory.liveBytes
        loss.backward()
        // The graph is freed: the root's node has no backward closure and no edges left.
        XCTAssertNil(loss.gradFn?.backward)
        XCTAssertEqual(loss.gradFn?.edges.count ?? 0, 0)
        return before
    }

    func testBackwardFreesTheGraph() {
        let x = randomDArray([2, 9, 9, 3], seed: 11).tensor()
        let w = randomDArray([8, 3, 3, 3], seed: 12).tensor(requiresGrad: true)
        let fc = randomDArray([2, 8], seed: 13).tensor(requiresGrad: true)
        let shift = Tensor(zeros: [8], requiresGrad: true)
        let stats = BatchNormStatistics(mean: Tensor(zeros: [8]), variance: Tensor(repeating: 1, shape: [8]))
        // Warm up: primitives, the shared scratchpad and the parameters' grads reach their steady state.
        _ = trainingStep(x, w, fc, stats, shift)
        _ = trainingStep(x, w, fc, stats, shift)
        let baseline = EngineContext.current.memory.liveBytes
        let duringGraph = trainingStep(x, w, fc, stats, shift)
        // The activations of [2, 9, 9, 8] (conv out, bn out, ...) were alive while the graph existed.
        XCTAssertGreaterThan(duringGraph - baseline, 2 * 9 * 9 * 8 * 4 * 2, "the graph should hold saved activations")
        XCTAssertEqual(EngineContext.current.memory.liveBytes, baseline, "backward and dropping the outputs must free everything the graph held")
    }
}
