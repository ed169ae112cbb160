import XCTest
@testable import ResNetEngine

/// The reference backend (plain Swift in float64, Doubles in its own buffers, activations NCHW, no
/// fusions) against the CPU backend, op by op on odd sizes: the same ops run in a CPU and a
/// reference context on the same values, forward and backward. Agreement is `relativeError`:
/// per tensor, max |cpu - reference| / max |reference| (floor 1e-6), here at most 1e-5.
/// The CPU side runs oneDNN's fused forms; the reference side the ops' compositions of core ops.
final class ReferenceBackendTests: XCTestCase {
    private let cpu = EngineContext()
    private let reference = EngineContext(options: EngineOptions(backend: .reference))

    /// An input tensor: shape, seed of its normal values, and whether it takes a gradient.
    private struct Input {
        var shape: [Int], seed: UInt64, grad = false, std: Float = 1, mean: Float = 0

        var values: [Float] {
            var g = SeededGenerator(seed: seed)
            return (0..<shape.reduce(1, *)).map { _ in mean + std * g.nextNormal() }
        }
    }

    /// Runs `body` in `context` on tensors made there from `inputs`; returns what it names, as values.
    private func evaluate(_ context: EngineContext, _ inputs: [Input], _ body: ([Tensor]) -> [(String, Tensor)]) -> [(String, [Float])] {
        context.run {
            let tensors = inputs.map { Tensor(shape: $0.shape, values: $0.values, requiresGrad: $0.grad) }
            return body(tensors).map { name, t in
                XCTAssertEqual(t.device, context.backend.device, "\(name) left its context's device")
                return (name, t.toArray())
            }
        }
    }

    /// Asserts that `body` gives the same named tensors on both backends, within `tolerance`.
    private func assertAgree(_ what: String, _ inputs: [Input], tolerance: Double = 1e-5,
                             file: StaticString = #filePath, line: UInt = #line, _ body: ([Tensor]) -> [(String, Tensor)]) {
        let expected = evaluate(reference, inputs, body), actual = evaluate(cpu, inputs, body)
        XCTAssertEqual(actual.map { $0.0 }, expected.map { $0.0 }, file: file, line: line)
        for ((name, a), (_, e)) in zip(actual, expected) {
            XCTAssertEqual(a.count, e.count, "\(what): \(name) sizes", file: file, line: line)
            guard a.count == e.count else { continue }
            let error = relativeError(a.map(Double.init), e.map(Double.init))
            XCTAssertLessThanOrEqual(error, tolerance, "\(what): \(name) differs by \(error) of its scale", file: file, line: line)
        }
    }

    /// Backward from `y` with the seed `dy` (a random tensor of y's shape).
    private func backward(_ y: Tensor, _ dy: Tensor) -> Tensor {
        y.backward(seed: dy)
        return y
    }

    func testConvolutionForwardAndBackwardAgree() {
        // (x, weight, groups, bias, stride, padding, dilation, residual, relu)
        let cases: [([Int], [Int], Int, Bool, Int, Padding, Int, Bool, Bool)] = [
            ([2, 7, 9, 6], [8, 3, 3, 3], 2, true, 2, .symmetric(1), 1, true, true),
            ([3, 6, 5, 4], [5, 4, 3, 3], 1, false, 1, .same, 2, false, true),
            ([2, 8, 8, 16], [16, 16, 1, 1], 1, true, 2, .valid, 1, true, false),
            ([1, 9, 6, 3], [4, 3, 5, 3], 1, true, 3, .explicit(top: 2, bottom: 0, left: 1, right: 2), 1, false, false),
        ]
        for (i, (xs, ws, groups, bias, stride, padding, dilation, residual, relu)) in cases.enumerated() {
            let g = WindowGeometry(inputH: xs[1], inputW: xs[2], kernelH: ws[2], kernelW: ws[3], stride: (stride, stride),
                                   dilation: (dilation, dilation), padding: padding)
            let ys = [xs[0], g.outputH, g.outputW, ws[0]], seed = UInt64(10 * i)
            let inputs = [Input(shape: xs, seed: seed, grad: true), Input(shape: ws, seed: seed + 1, grad: true, std: 0.3),
                          Input(shape: [ws[0]], seed: seed + 2, grad: true), Input(shape: ys, seed: seed + 3, grad: true),
                          Input(shape: ys, seed: seed + 4)]
            assertAgree("convolution \(i)", inputs) { t in
                let y = conv2d(t[0], t[1], bias: bias ? t[2] : nil, stride: stride, padding: padding, dilation: dilation,
                               groups: groups, residual: residual ? t[3] : nil, relu: relu)
                return [("y", backward(y, t[4])), ("dx", t[0].grad!), ("dw", t[1].grad!)]
                    + (bias ? [("db", t[2].grad!)] : []) + (residual ? [("dresidual", t[3].grad!)] : [])
            }
        }
    }

    func testBatchNormAgreesInEveryModeWithAndWithoutReLU() {
        let inputs = [Input(shape: [3, 5, 4, 6], seed: 1, grad: true, std: 2, mean: 0.5), Input(shape: [6], seed: 2, grad: true, mean: 1),
                      Input(shape: [6], seed: 3, grad: true), Input(shape: [3, 5, 4, 6], seed: 4)]
        for training in [true, false] {
            for relu in [false, true] {
                for scale in [true, false] {
                    assertAgree("batch norm training \(training) relu \(relu) scale \(scale)", inputs) { t in
                        let stats = BatchNormStatistics(mean: Tensor(shape: [6], values: (0..<6).map { Float($0) * 0.1 }),
                                                        variance: Tensor(shape: [6], values: (0..<6).map { 0.5 + Float($0) * 0.3 }))
                        let y = batchNorm(t[0], scale: scale ? t[1] : nil, shift: t[2], statistics: stats, training: training,
                                          momentum: 0.2, relu: relu)
                        return [("y", backward(y, t[3])), ("dx", t[0].grad!), ("dshift", t[2].grad!),
                                ("running mean", stats.mean), ("running variance", stats.variance)] + (scale ? [("dscale", t[1].grad!)] : [])
                    }
                }
            }
        }
    }

    /// A fused link: BN-ReLU before the convolution and BN-ReLU after it, both recomputed in
    /// backward; on the reference the ReLU's mask comes from the recomputed normalization.
    func testFusedConvolutionLinkAgrees() {
        let inputs = [Input(shape: [2, 6, 5, 8], seed: 5, grad: true), Input(shape: [8, 8, 3, 3], seed: 6, grad: true, std: 0.2),
                      Input(shape: [8], seed: 7, grad: true, mean: 1), Input(shape: [8], seed: 8, grad: true),
                      Input(shape: [8], seed: 9, grad: true, mean: 1), Input(shape: [8], seed: 10, grad: true),
                      Input(shape: [2, 6, 5, 8], seed: 11)]
        assertAgree("fused conv link", inputs) { t in
            func parameters(_ scale: Tensor, _ shift: Tensor) -> BatchNormParameters {
                BatchNormParameters(scale: scale, shift: shift,
                                    statistics: BatchNormStatistics(mean: Tensor(zeros: [8]), variance: Tensor(repeating: 1, shape: [8])))
            }
            let pre = parameters(t[2], t[3]), post = parameters(t[4], t[5])
            let y = fusedConv2d(t[0], pre: pre, conv: ConvolutionParameters(weight: t[1], padding: .symmetric(1)), post: post, postReLU: true)
            return [("y", backward(y, t[6])), ("dx", t[0].grad!), ("dw", t[1].grad!), ("pre dscale", t[2].grad!),
                    ("pre dshift", t[3].grad!), ("post dscale", t[4].grad!), ("post dshift", t[5].grad!),
                    ("pre running mean", pre.statistics.mean), ("post running variance", post.statistics.variance)]
        }
    }

    func testPoolingAgrees() {
        let x = Input(shape: [2, 9, 7, 5], seed: 12, grad: true)
        let pools: [(String, (Tensor) -> Tensor)] = [
            ("max 3x3/2 pad 1", { maxPool2d($0, kernel: 3, stride: 2, padding: .symmetric(1)) }),
            ("avg 3x3/2 pad 1 with padding", { avgPool2d($0, kernel: 3, stride: 2, padding: .symmetric(1)) }),
            ("avg 2x2/1 same without padding", { avgPool2d($0, kernel: 2, stride: 1, padding: .same, countIncludePad: false) }),
            ("global average", { globalAvgPool($0) }),
        ]
        for (name, pool) in pools {
            let shape = cpu.run { pool(Tensor(zeros: x.shape)).shape }
            assertAgree(name, [x, Input(shape: shape, seed: 13)]) { t in
                [("y", backward(pool(t[0]), t[1])), ("dx", t[0].grad!)]
            }
        }
    }

    /// A linear layer on a flattened 4-D activation: the reshape reads the reference's NCHW buffer in NHWC order.
    func testLinearAndReshapeAgree() {
        let inputs = [Input(shape: [2, 3, 3, 4], seed: 14, grad: true), Input(shape: [7, 36], seed: 15, grad: true, std: 0.2),
                      Input(shape: [7], seed: 16, grad: true), Input(shape: [2, 7], seed: 17)]
        assertAgree("linear", inputs) { t in
            let y = linear(flatten(relu(avgPool2d(t[0], kernel: 1, stride: 1))), t[1], bias: t[2])
            return [("y", backward(y, t[3])), ("dx", t[0].grad!), ("dw", t[1].grad!), ("db", t[2].grad!)]
        }
    }

    func testSoftmaxAndCrossEntropyAgree() {
        let inputs = [Input(shape: [4, 6], seed: 18, grad: true, std: 2), Input(shape: [4, 6], seed: 19)]
        assertAgree("cross-entropy", inputs) { t in
            let loss = crossEntropy(t[0], labels: LabelTensor([0, 5, 2, 2]), labelSmoothing: 0.1)
            loss.backward()
            return [("loss", loss), ("dlogits", t[0].grad!)]
        }
        assertAgree("softmax", inputs) { t in [("p", backward(softmax(t[0]), t[1])), ("dlogits", t[0].grad!)] }
    }

    func testOptionAShortcutAndElementwiseOpsAgree() {
        let inputs = [Input(shape: [2, 5, 5, 4], seed: 20, grad: true), Input(shape: [2, 3, 3, 6], seed: 21),
                      Input(shape: [2, 5, 5, 4], seed: 22, grad: true)]
        assertAgree("shortcut A, add, multiply, scale", inputs) { t in
            let y = padChannelsSubsample(scale(multiply(t[0], t[2]) + t[2], by: 1.5), channels: 6, stride: 2)
            return [("y", backward(y, t[1])), ("dx", t[0].grad!), ("db", t[2].grad!)]
        }
    }

    func testOptimizerUpdatesAgree() {
        let inputs = [Input(shape: [5, 3, 3, 3], seed: 23), Input(shape: [5, 3, 3, 3], seed: 24), Input(shape: [5, 3, 3, 3], seed: 25),
                      Input(shape: [5, 3, 3, 3], seed: 26, std: 0.1, mean: 0.5)]
        for nesterov in [false, true] {
            assertAgree("SGD nesterov \(nesterov)", inputs) { t in
                Backend.current.sgdUpdate(t[0], gradient: t[1], momentumBuffer: t[2], attributes: SGDAttributes(
                    learningRate: 0.1, momentum: 0.9, dampening: nesterov ? 0 : 0.1, nesterov: nesterov, weightDecay: 5e-4))
                Backend.current.sgdUpdate(t[0], gradient: t[1], momentumBuffer: nil, attributes: SGDAttributes(learningRate: 0.05, weightDecay: 1e-3))
                return [("parameter", t[0]), ("momentum", t[2])]
            }
        }
        for decoupled in [false, true] {
            assertAgree("Adam decoupled \(decoupled)", inputs) { t in
                let moment2 = multiply(t[3], t[3])
                Backend.current.adamUpdate(t[0], gradient: t[1], expAvg: t[2], expAvgSq: moment2, attributes: AdamAttributes(
                    learningRate: 0.01, weightDecay: 0.01, decoupled: decoupled, step: 3))
                return [("parameter", t[0]), ("first moment", t[2]), ("second moment", moment2)]
            }
        }
    }

    /// The small kernels layers and training call directly, not through differentiable ops.
    func testBookkeepingKernelsAgree() {
        let inputs = [Input(shape: [6, 4, 3, 3], seed: 27), Input(shape: [6], seed: 28), Input(shape: [6], seed: 29, mean: 1),
                      Input(shape: [6], seed: 30), Input(shape: [6], seed: 31, std: 0.2, mean: 1), Input(shape: [5, 7], seed: 32)]
        assertAgree("folding, running statistics, in-place arithmetic", inputs) { t in
            let backend = Backend.current
            let (w, b) = backend.foldBatchNorm(weight: t[0], bias: t[1], scale: t[2], shift: t[3], mean: t[1], variance: t[4], epsilon: 1e-3)
            backend.updateRunningStatistics(mean: t[1], variance: t[4], batchMean: t[3], batchVariance: t[4], momentum: 0.1, count: 9)
            backend.axpbyInPlace(t[5], alpha: 0.5, backend.dropoutMask(shape: [5, 7], rate: 0.3, seed: 4), beta: 2)
            backend.scaleInPlace(t[2], by: -3)
            let targets = backend.smoothTargets(backend.labelTargets(LabelTensor([1, 0, 6, 3, 3]), classes: 7, smoothing: 0.2), smoothing: 0.1)
            let sums = Tensor(shape: [2], values: [backend.sum(t[5]), Float(backend.sumOfSquares([t[0], t[5]]))])
            return [("folded weight", w), ("folded bias", b), ("running mean", t[1]), ("running variance", t[4]),
                    ("axpby with dropout mask", t[5]), ("scaled", t[2]), ("targets", targets), ("sums", sums)]
        }
        let outcomes = [cpu, reference].map { context in
            evaluate(context, [Input(shape: [5, 7], seed: 33)]) { t in
                let o = Backend.current.classify(t[0], labels: [0, 1, 2, 3, 6])
                return [("outcomes", Tensor(shape: [10], values: o.flatMap { [Float($0.predicted ?? -1), Float($0.greaterThanTruth)] }))]
            }
        }
        XCTAssertEqual(outcomes[0].map { $0.1 }, outcomes[1].map { $0.1 }, "classification outcomes differ")
    }

    // MARK: Storage and host access

    /// The kink margin: ReLU inputs' distance from 0 and max-pool runner-up gaps, relative to the
    /// tensor's largest |value|; exact ties and exact zeros are skipped (they break alike everywhere).
    func testKinkMarginRecordsTheClosestBranchPoint() throws {
        let context = EngineContext(options: EngineOptions(backend: .reference))
        let margin = try XCTUnwrap(context.backend as? ReferenceBackend).kinkMargin
        XCTAssertEqual(margin.value, .infinity)
        context.run {
            _ = relu(Tensor(shape: [5], values: [-4, 0.5, 0, 2, -0.25]))
            XCTAssertEqual(margin.value, 0.25 / 4)
            // One 2x2 window of one channel: 3 beats 2.5 by 0.5, relative to 3.
            _ = maxPool2d(Tensor(shape: [1, 2, 2, 1], values: [1, 3, 2.5, -1]), kernel: 2, stride: 2)
            XCTAssertEqual(margin.value, 0.25 / 4, "a wider margin leaves the smallest")
            margin.reset()
            _ = maxPool2d(Tensor(shape: [1, 2, 2, 1], values: [1, 3, 2.5, -1]), kernel: 2, stride: 2)
            XCTAssertEqual(margin.value, 0.5 / 3, accuracy: 1e-12)
            margin.reset()
            _ = maxPool2d(Tensor(shape: [1, 2, 2, 1], values: [0, 0, 0, 0]), kernel: 2, stride: 2)
            _ = relu(Tensor(shape: [2], values: [0, 0]))
            XCTAssertEqual(margin.value, .infinity, "exact ties and zeros are not kinks")
        }
    }

    func testReferenceTensorsKeepDoublesInTheirOwnStorage() {
        reference.run {
            let t = Tensor(shape: [2, 3], values: [1, -2, 3.5, 0.25, 5, 6])
            XCTAssertEqual(t.device, .reference)
            XCTAssertEqual(t.dtype, .float32, "the public dtype stays float32")
            XCTAssertEqual(t.storage.byteCount, 6 * 8, "one Double per element")
            XCTAssertEqual(Array(UnsafeBufferPointer(start: t.doubles, count: 6)), [1, -2, 3.5, 0.25, 5, 6])
            XCTAssertEqual(t.toArray(), [1, -2, 3.5, 0.25, 5, 6])
            XCTAssertEqual(Tensor(repeating: 2, shape: [3]).toArray(), [2, 2, 2])
            XCTAssertEqual(Tensor(zeros: [2, 2]).device, .reference)
            XCTAssertEqual(Tensor(shape: [3], values: [Int32(4), -7, 9]).toArray(as: Int32.self), [4, -7, 9])
            XCTAssertEqual(t.copy().toArray(), t.toArray())
        }
        // The convenience initialisers draw the same values whichever device they fill.
        let drawn = [cpu, reference].map { c in c.run { Tensor.randomNormal([3, 70_000], seed: 5).toArray() } }
        XCTAssertEqual(drawn[0], drawn[1])
        XCTAssertEqual(cpu.run { Tensor.randomUniform([9], seed: 6).toArray() }, reference.run { Tensor.randomUniform([9], seed: 6).toArray() })
    }

    /// A reference activation is NCHW in memory: reads present NHWC and leave buffer, layout and
    /// version alone; a write lands in NCHW order and moves the version once.
    func testHostAccessReadsWithoutSideEffectsAndWritesOnce() {
        reference.run {
            let x = Tensor(shape: [2, 3, 4, 5], values: (0..<120).map(Float.init))
            let y = maxPool2d(x, kernel: 1, stride: 1)   // the same values, as an activation the backend wrote
            XCTAssertEqual(y.storage.layout, .nchw)
            let (version, buffer) = (y.storage.version, y.storage.raw)
            let bytes = Array(UnsafeBufferPointer(start: y.doubles, count: 120))
            XCTAssertEqual(y.toArray(), (0..<120).map(Float.init), "values in NHWC order")
            XCTAssertNotEqual(bytes, (0..<120).map(Double.init), "the buffer must be NCHW, or the test proves nothing")
            _ = y.withHostValues { $0.reduce(0, +) }
            _ = y.description
            _ = y.converted(to: .bfloat16)
            XCTAssertEqual(y.storage.version, version, "reading moved the version")
            XCTAssertEqual(y.storage.raw, buffer, "reading swapped the buffer")
            XCTAssertEqual(y.storage.layout, .nchw, "reading changed the layout")
            XCTAssertEqual(Array(UnsafeBufferPointer(start: y.doubles, count: 120)), bytes, "reading changed the values")

            y.withMutableHostValues { $0[1] = -1; $0[119] = 500 }
            XCTAssertEqual(y.storage.version, version + 1, "one write, one version")
            XCTAssertEqual(y.storage.layout, .nchw)
            XCTAssertEqual(y.toArray(), [0, -1] + (2..<119).map(Float.init) + [500])
            // A reshape reads the buffer in NHWC order: the storage turns row-major in place, values kept.
            XCTAssertEqual(reshape(y, [2, 60]).toArray(), y.toArray())
            XCTAssertEqual(y.storage.layout, .nhwc)
            XCTAssertEqual(y.storage.version, version + 1)
        }
    }

    /// `converted(to:)` rounds as the CPU's oneDNN reorders do, and stays on the reference device.
    func testDTypeConversionsMatchTheCPUs() {
        let values: [Float] = [0, 1.5, 2.5, -1.5, -2.5, 1.00390625, 1.01171875, 3e9, -3e9, 300, -200, 65504, 1e-8, 0.1]
        for dtype in DType.allCases where dtype != .float32 {
            let results = [cpu, reference].map { context in
                context.run { () -> [Float] in
                    let converted = Tensor(shape: [values.count], values: values).converted(to: dtype)
                    XCTAssertEqual(converted.device, context.backend.device)
                    XCTAssertEqual(converted.dtype, dtype)
                    return converted.converted(to: .float32).toArray()
                }
            }
            XCTAssertEqual(results[1], results[0], "\(dtype)")
        }
    }

    func testEveryFusedFormIsACapabilityTheReferenceLacks() {
        XCTAssertEqual(reference.backend.capabilities, [])
        XCTAssertEqual(cpu.backend.capabilities, .all)
        XCTAssertEqual(EngineContext(options: EngineOptions(capabilities: [.addReLU])).backend.capabilities, [.addReLU])
        XCTAssertEqual(reference.backend.device, .reference)
        XCTAssertEqual(EngineContext.default.backend.device, .cpu, "the default context stays on the CPU")
    }
}
