import XCTest
@testable import ResNetEngine

/// The backend's optimizer, batch-norm-statistics, loss, dropout and metric ops against float64
/// references written out here, on odd sizes (1, 7 and 1000003 elements, so `parallelChunks` splits
/// the long one and leaves a ragged last chunk), and the optimizer steps also against hand-computed
/// values and against the float32 loops the optimizers used before (bit for bit).
final class BackendNumericOpsTests: XCTestCase {
    let sizes = [1, 7, 1_000_003]
    var backend: ComputeBackend { Backend.current }

    private func random(_ n: Int, seed: UInt64, std: Double = 1, mean: Double = 0) -> [Double] {
        randomDArray([n], seed: seed, std: std, mean: mean).data
    }

    private func tensor(_ values: [Double]) -> Tensor { Tensor(shape: [values.count], values: values.map(Float.init)) }

    private func values(_ t: Tensor) -> [Double] { t.toArray().map(Double.init) }

    // MARK: SGD

    func testSGDStepsMatchFloat64ReferenceAndTheFormerFloatLoopBitForBit() {
        let configurations = [SGDAttributes(learningRate: 0.1, weightDecay: 0.01),
                              SGDAttributes(learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3),
                              SGDAttributes(learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3)]
        for n in sizes {
            for (k, a) in configurations.enumerated() {
                var p = random(n, seed: 1), buf = [Double](repeating: 0, count: n)
                let param = tensor(p), buffer = a.momentum == 0 ? nil : Tensor(zeros: [n])
                var pf = param.toArray(), bf = [Float](repeating: 0, count: n)
                for step in 0..<3 {
                    let g = random(n, seed: UInt64(10 + step))
                    let grad = tensor(g)
                    let version = param.storage.version
                    backend.sgdUpdate(param, gradient: grad, momentumBuffer: buffer, attributes: a)
                    XCTAssertNotEqual(param.storage.version, version, "the update moves the parameter's version")
                    // float64: torch.optim.SGD's formula with dampening 0.
                    let (lr, mu, wd) = (Double(a.learningRate), Double(a.momentum), Double(a.weightDecay))
                    for i in 0..<n {
                        var d = g[i] + wd * p[i]
                        if mu != 0 {
                            buf[i] = mu * buf[i] + d
                            d = a.nesterov ? d + mu * buf[i] : buf[i]
                        }
                        p[i] -= lr * d
                    }
                    // The float32 loop SGD.step ran before the op existed.
                    let gf = grad.toArray()
                    for i in 0..<n {
                        if a.momentum == 0 { pf[i] -= a.learningRate * (gf[i] + a.weightDecay * pf[i]); continue }
                        let d = gf[i] + a.weightDecay * pf[i]
                        let b = a.momentum * bf[i] + d
                        bf[i] = b
                        pf[i] -= a.learningRate * (a.nesterov ? d + a.momentum * b : b)
                    }
                }
                assertClose(values(param), p, tolerance: 1e-5, "SGD config \(k), n = \(n)")
                XCTAssertTrue(param.toArray() == pf, "SGD config \(k), n = \(n): not bit-identical to the former loop")
                if let buffer { XCTAssertTrue(buffer.toArray() == bf, "SGD config \(k), n = \(n): momentum buffer") }
            }
        }
    }

    func testSGDHandComputed() {
        // p = 1, g = 0.5, lr = 0.1, momentum 0.9, wd 0.1. Step 1: d = 0.6, buf = 0.6, p = 0.94.
        // Step 2: d = 0.5 + 0.094 = 0.594, buf = 0.54 + 0.594 = 1.134, p = 0.94 - 0.1134 = 0.8266.
        let p = Tensor(shape: [1], values: [1]), buf = Tensor(zeros: [1]), g = Tensor(shape: [1], values: [0.5])
        let a = SGDAttributes(learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
        backend.sgdUpdate(p, gradient: g, momentumBuffer: buf, attributes: a)
        XCTAssertEqual(p.toArray()[0], 0.94, accuracy: 1e-6)
        backend.sgdUpdate(p, gradient: g, momentumBuffer: buf, attributes: a)
        XCTAssertEqual(buf.toArray()[0], 1.134, accuracy: 1e-6)
        XCTAssertEqual(p.toArray()[0], 0.8266, accuracy: 1e-6)
        // Nesterov, step 1: d = 0.6, buf = 0.6, p = 1 - 0.1 * (0.6 + 0.54) = 0.886.
        let q = Tensor(shape: [1], values: [1]), qbuf = Tensor(zeros: [1])
        backend.sgdUpdate(q, gradient: g, momentumBuffer: qbuf, attributes: SGDAttributes(learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1))
        XCTAssertEqual(q.toArray()[0], 0.886, accuracy: 1e-6)
        // Dampening 0.5 scales the new gradient into the buffer: buf = 0.5 * 0.5 = 0.25, p = 1 - 0.025.
        let r = Tensor(shape: [1], values: [1]), rbuf = Tensor(zeros: [1])
        backend.sgdUpdate(r, gradient: g, momentumBuffer: rbuf, attributes: SGDAttributes(learningRate: 0.1, momentum: 0.9, dampening: 0.5))
        XCTAssertEqual(r.toArray()[0], 0.975, accuracy: 1e-6)
    }

    // MARK: Adam

    func testAdamStepsMatchFloat64Reference() {
        for n in sizes {
            for decoupled in [false, true] {
                let a0 = AdamAttributes(learningRate: 0.01, beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.05,
                                        decoupled: decoupled, step: 1)
                var p = random(n, seed: 2), m = [Double](repeating: 0, count: n), v = m
                let param = tensor(p), expAvg = Tensor(zeros: [n]), expAvgSq = Tensor(zeros: [n])
                for step in 1...3 {
                    let g = random(n, seed: UInt64(20 + step))
                    var a = a0
                    a.step = step
                    backend.adamUpdate(param, gradient: tensor(g), expAvg: expAvg, expAvgSq: expAvgSq, attributes: a)
                    let (lr, b1, b2, eps, wd, t) = (0.01, 0.9, 0.99, 1e-8, 0.05, Double(step))
                    for i in 0..<n {
                        let gi = decoupled ? g[i] : g[i] + wd * p[i]
                        if decoupled { p[i] *= 1 - lr * wd }
                        m[i] = b1 * m[i] + (1 - b1) * gi
                        v[i] = b2 * v[i] + (1 - b2) * gi * gi
                        let mHat = m[i] / (1 - pow(b1, t)), vHat = v[i] / (1 - pow(b2, t))
                        p[i] -= lr * mHat / (vHat.squareRoot() + eps)
                    }
                }
                assertClose(values(param), p, tolerance: 1e-5, "Adam\(decoupled ? "W" : ""), n = \(n)")
                assertClose(values(expAvg), m, tolerance: 1e-5, "Adam first moment, n = \(n)")
                assertClose(values(expAvgSq), v, tolerance: 1e-4, "Adam second moment, n = \(n)")
            }
        }
    }

    func testAdamAndAdamWHandComputed() {
        // Step 1 of Adam moves every weight by about lr against the gradient's sign: m̂ = g, v̂ = g².
        let g = Tensor(shape: [2], values: [0.5, -2])
        let p = Tensor(shape: [2], values: [1, 1]), m = Tensor(zeros: [2]), v = Tensor(zeros: [2])
        backend.adamUpdate(p, gradient: g, expAvg: m, expAvgSq: v, attributes: AdamAttributes(learningRate: 0.1, step: 1))
        XCTAssertEqual(p.toArray()[0], 0.9, accuracy: 1e-6)
        XCTAssertEqual(p.toArray()[1], 1.1, accuracy: 1e-6)
        XCTAssertEqual(m.toArray()[0], 0.05, accuracy: 1e-7)
        XCTAssertEqual(m.toArray()[1], -0.2, accuracy: 1e-7)
        XCTAssertEqual(v.toArray()[1], 0.004, accuracy: 1e-7)
        // AdamW with wd 0.1 first shrinks p by 1 - 0.01: 0.99 - 0.1 = 0.89.
        let q = Tensor(shape: [1], values: [1]), qm = Tensor(zeros: [1]), qv = Tensor(zeros: [1])
        backend.adamUpdate(q, gradient: Tensor(shape: [1], values: [0.5]), expAvg: qm, expAvgSq: qv,
                           attributes: AdamAttributes(learningRate: 0.1, weightDecay: 0.1, decoupled: true, step: 1))
        XCTAssertEqual(q.toArray()[0], 0.89, accuracy: 1e-6)
        // Adam's L2 decay joins the gradient instead: g = 0.5 + 0.1 = 0.6, m = 0.06.
        let r = Tensor(shape: [1], values: [1]), rm = Tensor(zeros: [1]), rv = Tensor(zeros: [1])
        backend.adamUpdate(r, gradient: Tensor(shape: [1], values: [0.5]), expAvg: rm, expAvgSq: rv,
                           attributes: AdamAttributes(learningRate: 0.1, weightDecay: 0.1, step: 1))
        XCTAssertEqual(rm.toArray()[0], 0.06, accuracy: 1e-7)
        XCTAssertEqual(r.toArray()[0], 0.9, accuracy: 1e-6)
    }

    // MARK: In-place arithmetic and reductions

    func testAxpbyScaleAndSumOfSquares() {
        for n in sizes {
            let y = random(n, seed: 3), x = random(n, seed: 4)
            let yt = tensor(y)
            backend.axpbyInPlace(yt, alpha: 0.75, tensor(x), beta: -0.25)
            assertClose(values(yt), zip(y, x).map { 0.75 * $0 + -0.25 * $1 }, tolerance: 1e-6, "axpby, n = \(n)")
            let st = tensor(x)
            backend.scaleInPlace(st, by: 0.3)
            assertClose(values(st), x.map { $0 * 0.3 }, tolerance: 1e-6, "scaleInPlace, n = \(n)")
            // Several tensors, summed in order in double: exactly the sequential double sum.
            let parts = [x, y, [3]]
            let expected = parts.joined().reduce(0.0) { $0 + $1 * $1 }
            XCTAssertEqual(backend.sumOfSquares(parts.map(tensor)), expected, "sumOfSquares, n = \(n)")
        }
        XCTAssertEqual(backend.sumOfSquares([]), 0)
    }

    // MARK: Batch norm

    func testRunningStatisticsFollowTorchFormula() {
        for (channels, count) in [(1, 1), (7, 5), (1000003, 2)] {
            let rm = random(channels, seed: 5), rv = random(channels, seed: 6, mean: 2).map(abs)
            let bm = random(channels, seed: 7), bv = random(channels, seed: 8, mean: 1).map(abs)
            let mean = tensor(rm), variance = tensor(rv)
            backend.updateRunningStatistics(mean: mean, variance: variance, batchMean: tensor(bm), batchVariance: tensor(bv),
                                            momentum: 0.1, count: count)
            let correction = count > 1 ? Double(count) / Double(count - 1) : 1
            assertClose(values(mean), (0..<channels).map { 0.9 * rm[$0] + 0.1 * bm[$0] }, tolerance: 1e-6, "running mean")
            assertClose(values(variance), (0..<channels).map { 0.9 * rv[$0] + 0.1 * bv[$0] * correction }, tolerance: 1e-6,
                        "running variance, \(count) values per channel")
        }
    }

    func testFoldedConvolutionEqualsConvolutionThenInferenceBatchNorm() {
        for withBias in [false, true] {
            let (o, i) = (7, 3)
            let x = randomTensor([2, 5, 5, i], seed: 9), w = randomTensor([o, i, 3, 3], seed: 10)
            let b = withBias ? randomTensor([o], seed: 11) : nil
            let gamma = randomTensor([o], seed: 12), beta = randomTensor([o], seed: 13)
            let mean = randomTensor([o], seed: 14), variance = tensor(random(o, seed: 15, mean: 1).map { abs($0) + 0.1 })
            let (fw, fb) = backend.foldBatchNorm(weight: w, bias: b, scale: gamma, shift: beta, mean: mean, variance: variance, epsilon: 1e-3)
            // The formula, in float64.
            let (g, s, mu, v) = (values(gamma), values(beta), values(mean), values(variance))
            let scales = (0..<o).map { g[$0] / (v[$0] + 1e-3).squareRoot() }
            let wv = values(w), per = wv.count / o
            assertClose(values(fw), wv.indices.map { wv[$0] * scales[$0 / per] }, tolerance: 1e-6, "folded weight")
            let bv = b.map(values) ?? [Double](repeating: 0, count: o)
            assertClose(values(fb), (0..<o).map { s[$0] + (bv[$0] - mu[$0]) * scales[$0] }, tolerance: 1e-6, "folded bias")
            // And what it is for: one convolution giving conv then BN's output.
            let unfolded = GradMode.withoutGradient {
                batchNorm(conv2d(x, w, bias: b, padding: .same), scale: gamma, shift: beta,
                          statistics: BatchNormStatistics(mean: mean, variance: variance), training: false, epsilon: 1e-3)
            }
            let folded = GradMode.withoutGradient { conv2d(x, fw, bias: fb, padding: .same) }
            assertClose(values(folded), values(unfolded), tolerance: 1e-5, "folded vs unfolded inference")
        }
    }

    // MARK: Loss, dropout, metrics

    func testSoftmaxBackwardTargetsAndSmoothing() {
        let (n, k) = (3, 7)
        let p = softmax(randomTensor([n, k], seed: 16, std: 2)), dy = random(n * k, seed: 17)
        let pv = values(p)
        let dx = backend.softmaxBackward(Tensor(shape: [n, k], values: dy.map(Float.init)), output: p)
        var expected = [Double](repeating: 0, count: n * k)
        for r in 0..<n {
            let dot = (0..<k).reduce(0.0) { $0 + dy[r * k + $1] * pv[r * k + $1] }
            for j in 0..<k { expected[r * k + j] = pv[r * k + j] * (dy[r * k + j] - dot) }
        }
        assertClose(values(dx), expected, tolerance: 1e-5, "softmax backward")

        let targets = backend.labelTargets(LabelTensor([6, 0, 3]), classes: k, smoothing: 0.2)
        var oneHot = [Double](repeating: 0.2 / 7, count: n * k)
        for (r, label) in [6, 0, 3].enumerated() { oneHot[r * k + label] += 0.8 }
        assertClose(values(targets), oneHot, tolerance: 1e-7, "label targets")
        XCTAssertEqual(backend.labelTargets(LabelTensor([1]), classes: 3, smoothing: 0).toArray(), [0, 1, 0])

        let soft = random(n * k, seed: 18).map(abs)
        let smoothed = backend.smoothTargets(Tensor(shape: [n, k], values: soft.map(Float.init)), smoothing: 0.1)
        assertClose(values(smoothed), soft.map { $0 * 0.9 + 0.1 / 7 }, tolerance: 1e-6, "smoothed targets")
    }

    func testDropoutMaskDrawsInOrderFromTheSeed() {
        for n in sizes {
            let mask = backend.dropoutMask(shape: [n], rate: 0.3, seed: 42).toArray()
            var g = SeededGenerator(seed: 42)
            let expected = (0..<n).map { _ in g.nextFloat() < 0.3 ? 0 : Float(1 / 0.7) }
            XCTAssertTrue(mask == expected, "dropout mask, n = \(n)")
        }
        let big = backend.dropoutMask(shape: [1_000_003], rate: 0.3, seed: 7).toArray()
        XCTAssertEqual(Double(big.filter { $0 == 0 }.count) / 1_000_003, 0.3, accuracy: 0.002)
    }

    func testClassifyArgMaxTiesRanksAndNaN() {
        let logits = Tensor(shape: [4, 4], values: [1, 3, 3, 0,       // tie: lowest index wins
                                                    -1, -2, -3, -4,
                                                    0, .nan, 5, 1,    // NaN: invalid
                                                    2, 2, 2, 2])
        let outcomes = backend.classify(logits, labels: [3, 0, 2, 1])
        XCTAssertEqual(outcomes, [ClassificationOutcome(predicted: 1, greaterThanTruth: 3),
                                  ClassificationOutcome(predicted: 0, greaterThanTruth: 0),
                                  ClassificationOutcome(predicted: nil, greaterThanTruth: 0),
                                  ClassificationOutcome(predicted: 0, greaterThanTruth: 0)])
        // A long row against a plain scan.
        let k = 1_000_003, row = random(k, seed: 19)
        let one = backend.classify(Tensor(shape: [1, k], values: row.map(Float.init)), labels: [17])[0]
        let rowF = row.map(Float.init)
        XCTAssertEqual(one.predicted, rowF.indices.max { rowF[$0] < rowF[$1] || (rowF[$0] == rowF[$1] && $0 > $1) })
        XCTAssertEqual(one.greaterThanTruth, rowF.filter { $0 > rowF[17] }.count)
    }
}
