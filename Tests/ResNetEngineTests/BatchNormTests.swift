import XCTest
@testable import ResNetEngine

/// Batch norm: oneDNN forward (training and inference) and backward against the float64 reference,
/// the running-statistics update (PyTorch's momentum and unbiased variance), training vs inference
/// behaviour, the frozen (inference-mode) BN's gradients, and finite-difference gradients of the op.
final class BatchNormTests: XCTestCase {
    static let tolerance = 1e-4
    static let epsilon: Float = 1e-5

    func testBackendTrainingForwardMatchesReference() {
        let x = randomDArray([2, 7, 9, 5], seed: 1, std: 2, mean: 0.5)
        let scale = randomDArray([5], seed: 2), shift = randomDArray([5], seed: 3)
        for (useScale, relu) in [(true, false), (true, true), (false, false), (false, true)] {
            let r = Backend.current.batchNormTraining(x.tensor(), scale: useScale ? scale.tensor() : nil, shift: shift.tensor(),
                                                      epsilon: Self.epsilon, relu: relu)
            let ref = refBatchNormTraining(x, scale: useScale ? scale.data : nil, shift: shift.data, epsilon: Double(Self.epsilon), relu: relu)
            let what = "scale \(useScale) relu \(relu)"
            assertClose(r.y, ref.y, tolerance: Self.tolerance, "y \(what)")
            assertClose(r.mean, DArray(shape: [5], data: ref.mean), tolerance: Self.tolerance, "mean \(what)")
            assertClose(r.variance, DArray(shape: [5], data: ref.variance), tolerance: Self.tolerance, "biased variance \(what)")
            XCTAssertEqual(r.workspace != nil, relu, "a workspace exactly when ReLU is fused")
        }
    }

    func testBackendInferenceForwardMatchesReference() {
        let x = randomDArray([2, 7, 9, 3], seed: 4)
        let scale = randomDArray([3], seed: 5), shift = randomDArray([3], seed: 6)
        let mean = randomDArray([3], seed: 7), variance = DArray(shape: [3], data: [0.5, 2, 1.25])
        for relu in [false, true] {
            let y = Backend.current.batchNormInference(x.tensor(), scale: scale.tensor(), shift: shift.tensor(), mean: mean.tensor(),
                                                       variance: variance.tensor(), epsilon: Self.epsilon, relu: relu)
            let ref = refBatchNorm(x, scale: scale.data, shift: shift.data, mean: mean.data, variance: variance.data,
                                   epsilon: Double(Self.epsilon), relu: relu)
            assertClose(y, ref, tolerance: Self.tolerance, "inference relu \(relu)")
        }
    }

    func testBackendBackwardMatchesReference() {
        let x = randomDArray([2, 7, 9, 4], seed: 8, std: 1.5, mean: -0.3)
        let scale = randomDArray([4], seed: 9), shift = randomDArray([4], seed: 10)
        let dy = randomDArray(x.shape, seed: 11)
        let eps = Double(Self.epsilon)
        for relu in [false, true] {
            let f = Backend.current.batchNormTraining(x.tensor(), scale: scale.tensor(), shift: shift.tensor(), epsilon: Self.epsilon, relu: relu)
            let r = Backend.current.batchNormBackward(dy.tensor(), input: x.tensor(), scale: scale.tensor(), mean: f.mean, variance: f.variance,
                                                      epsilon: Self.epsilon, relu: relu, workspace: f.workspace, globalStatistics: false)
            let fr = refBatchNormTraining(x, scale: scale.data, shift: shift.data, epsilon: eps, relu: relu)
            let ref = refBatchNormBackward(dy, x, y: relu ? fr.y : nil, scale: scale.data, mean: fr.mean, variance: fr.variance,
                                           epsilon: eps, globalStatistics: false)
            assertClose(r.dx, ref.dx, tolerance: 1e-3, "dx relu \(relu)")
            assertClose(r.dscale!, DArray(shape: [4], data: ref.dscale), tolerance: Self.tolerance, "dscale relu \(relu)")
            assertClose(r.dshift, DArray(shape: [4], data: ref.dshift), tolerance: Self.tolerance, "dshift relu \(relu)")
        }
        // Global statistics (frozen BN): the statistics are constants.
        let mean = randomDArray([4], seed: 12), variance = DArray(shape: [4], data: [0.7, 1.1, 2.5, 0.4])
        let r = Backend.current.batchNormBackward(dy.tensor(), input: x.tensor(), scale: scale.tensor(), mean: mean.tensor(),
                                                  variance: variance.tensor(), epsilon: Self.epsilon, relu: false, workspace: nil,
                                                  globalStatistics: true)
        let ref = refBatchNormBackward(dy, x, y: nil, scale: scale.data, mean: mean.data, variance: variance.data,
                                       epsilon: eps, globalStatistics: true)
        assertClose(r.dx, ref.dx, tolerance: Self.tolerance, "dx global statistics")
        assertClose(r.dscale!, DArray(shape: [4], data: ref.dscale), tolerance: Self.tolerance, "dscale global statistics")
        assertClose(r.dshift, DArray(shape: [4], data: ref.dshift), tolerance: Self.tolerance, "dshift global statistics")
    }

    // MARK: Running statistics

    func testRunningStatisticsUpdateIsPyTorchs() {
        let x1 = randomDArray([2, 3, 5, 3], seed: 13, std: 2, mean: 1)
        let x2 = randomDArray([2, 3, 5, 3], seed: 14, std: 0.5, mean: -2)
        let stats = BatchNormStatistics(mean: Tensor(zeros: [3]), variance: Tensor(repeating: 1, shape: [3]))
        let scale = Tensor(repeating: 1, shape: [3]), shift = Tensor(zeros: [3])
        let momentum = 0.1, n = 2.0 * 3 * 5
        var expectedMean = [0.0, 0, 0], expectedVar = [1.0, 1, 1]
        for x in [x1, x2] {
            _ = batchNorm(x.tensor(), scale: scale, shift: shift, statistics: stats, training: true, momentum: Float(momentum))
            let (m, v) = refChannelMoments(x)
            for c in 0..<3 {
                expectedMean[c] = (1 - momentum) * expectedMean[c] + momentum * m[c]
                // Unbiased: the biased batch variance times n / (n - 1).
                expectedVar[c] = (1 - momentum) * expectedVar[c] + momentum * v[c] * n / (n - 1)
            }
        }
        assertClose(stats.mean.toArray().map(Double.init), expectedMean, tolerance: 1e-5, "running mean")
        assertClose(stats.variance.toArray().map(Double.init), expectedVar, tolerance: 1e-5, "running variance")
        // The same update with the biased variance must be distinguishable at this tolerance.
        var biased = [1.0, 1, 1]
        for x in [x1, x2] { let v = refChannelMoments(x).variance; for c in 0..<3 { biased[c] = (1 - momentum) * biased[c] + momentum * v[c] } }
        XCTAssertGreaterThan(relativeError(biased, expectedVar), 1e-3)
    }

    func testTrainingUsesBatchStatisticsInferenceUsesRunningOnes() {
        let x = randomDArray([2, 4, 5, 3], seed: 15, std: 3, mean: 2)
        let scale = randomDArray([3], seed: 16), shift = randomDArray([3], seed: 17)
        let runMean = [0.5, -1, 0.25], runVar = [2.0, 0.5, 1.5]
        let stats = BatchNormStatistics(mean: DArray(shape: [3], data: runMean).tensor(), variance: DArray(shape: [3], data: runVar).tensor())
        let eps = Double(Self.epsilon)

        let inference = batchNorm(x.tensor(), scale: scale.tensor(), shift: shift.tensor(), statistics: stats, training: false)
        assertClose(inference, refBatchNorm(x, scale: scale.data, shift: shift.data, mean: runMean, variance: runVar, epsilon: eps),
                    tolerance: Self.tolerance, "inference uses the running statistics")
        XCTAssertEqual(stats.mean.toArray().map(Double.init), runMean, "inference must not move the running mean")
        XCTAssertEqual(stats.variance.toArray().map(Double.init), runVar, "inference must not move the running variance")

        let training = batchNorm(x.tensor(), scale: scale.tensor(), shift: shift.tensor(), statistics: stats, training: true)
        assertClose(training, refBatchNormTraining(x, scale: scale.data, shift: shift.data, epsilon: eps).y,
                    tolerance: Self.tolerance, "training uses the batch statistics")
        XCTAssertNotEqual(stats.mean.toArray().map(Double.init), runMean, "training moves the running mean")
        // Per channel, the normalized training output has mean shift and (biased) std |scale|.
        let (m, v) = refChannelMoments(DArray(training))
        for c in 0..<3 {
            XCTAssertEqual(m[c], shift.data[c], accuracy: 1e-4)
            XCTAssertEqual(v[c].squareRoot(), abs(scale.data[c]), accuracy: 1e-3)
        }
    }

    func testFrozenBatchNormPassesGradientsAndKeepsStatistics() {
        let runMean = [0.3, -0.2, 0.1, 0.0], runVar = [1.5, 0.8, 2.0, 1.0]
        for relu in [false, true] {
            let stats = BatchNormStatistics(mean: DArray(shape: [4], data: runMean).tensor(), variance: DArray(shape: [4], data: runVar).tensor())
            let x = randomDArray([2, 3, 5, 4], seed: 18)
            let scale = randomDArray([4], seed: 19), shift = randomDArray([4], seed: 20)
            GradientCheck.check("frozen batchNorm relu \(relu)", inputs: [x, scale, shift],
                                engine: { batchNorm($0[0], scale: $0[1], shift: $0[2], statistics: stats, training: false, relu: relu) },
                                reference: { refBatchNorm($0[0], scale: $0[1].data, shift: $0[2].data, mean: runMean, variance: runVar,
                                                          epsilon: Double(Self.epsilon), relu: relu) })
            XCTAssertEqual(stats.mean.toArray().map(Double.init), runMean.map { Double(Float($0)) }, "frozen BN moved the running mean")
            XCTAssertEqual(stats.variance.toArray().map(Double.init), runVar.map { Double(Float($0)) }, "frozen BN moved the running variance")
        }
    }

    // MARK: Gradients through the op (training mode)

    func testTrainingGradients() {
        for relu in [false, true] {
            let stats = BatchNormStatistics(mean: Tensor(zeros: [3]), variance: Tensor(repeating: 1, shape: [3]))
            let x = randomDArray([2, 3, 5, 3], seed: 21, std: 1.5, mean: 0.5)
            let scale = randomDArray([3], seed: 22), shift = randomDArray([3], seed: 23)
            GradientCheck.check("batchNorm training relu \(relu)", inputs: [x, scale, shift],
                                engine: { batchNorm($0[0], scale: $0[1], shift: $0[2], statistics: stats, training: true, relu: relu) },
                                reference: { refBatchNormTraining($0[0], scale: $0[1].data, shift: $0[2].data,
                                                                  epsilon: Double(Self.epsilon), relu: relu).y })
        }
    }

    func testTrainingGradientsWithoutScale() {
        let stats = BatchNormStatistics(mean: Tensor(zeros: [3]), variance: Tensor(repeating: 1, shape: [3]))
        let x = randomDArray([2, 3, 5, 3], seed: 24)
        let shift = randomDArray([3], seed: 25)
        GradientCheck.check("batchNorm training, no scale", inputs: [x, shift],
                            engine: { batchNorm($0[0], scale: nil, shift: $0[1], statistics: stats, training: true) },
                            reference: { refBatchNormTraining($0[0], scale: nil, shift: $0[1].data, epsilon: Double(Self.epsilon)).y })
    }

    // MARK: Fused links with the BN-ReLU output and the convolution output recomputed in backward

    /// conv(relu(bn(x))) + residual: every input's gradient (x, weight, bias, shift, scale, residual)
    /// against float64 differences, on an odd 3x3/stride-2 case.
    func testFusedConvWithPreNormGradients() {
        let x = randomDArray([2, 5, 7, 3], seed: 31, std: 1.5, mean: 0.3)
        let shift = randomDArray([3], seed: 32), w = randomDArray([4, 3, 3, 3], seed: 33, std: 0.4)
        let scale = randomDArray([3], seed: 34), bias = randomDArray([4], seed: 35)
        let g = WindowGeometry(inputH: 5, inputW: 7, kernelH: 3, kernelW: 3, stride: (2, 2), padding: .symmetric(1))
        let rg = RefWindow(g)
        let residual = randomDArray([2, rg.outputH(5), rg.outputW(7), 4], seed: 36)
        GradientCheck.check("fusedConv2d pre", inputs: [x, w, bias, shift, scale, residual],
                            engine: { fusedConv2d($0[0], pre: Self.norm(scale: $0[4], shift: $0[3]),
                                                  conv: ConvolutionParameters(weight: $0[1], bias: $0[2], stride: 2, padding: .symmetric(1)),
                                                  residual: $0[5]) },
                            reference: {
                                let y = refBatchNormTraining($0[0], scale: $0[4].data, shift: $0[3].data, epsilon: Double(Self.epsilon), relu: true).y
                                return refConv2d(y, $0[1], bias: $0[2], rg, residual: $0[5])
                            })
    }

    /// bn2(conv(relu(bn1(x)))), the bottleneck's last link with its conv output recomputed: every
    /// gradient, both batch norms' included, on an odd 1x1 case.
    func testFusedConvWithPreAndPostNormGradients() {
        let x = randomDArray([3, 5, 3, 3], seed: 61, std: 1.5, mean: 0.3)
        let w = randomDArray([5, 3, 1, 1], seed: 62, std: 0.5)
        let (scale1, shift1) = (randomDArray([3], seed: 63), randomDArray([3], seed: 64))
        let (scale2, shift2) = (randomDArray([5], seed: 65), randomDArray([5], seed: 66))
        let rg = RefWindow(WindowGeometry(inputH: 5, inputW: 3, kernelH: 1, kernelW: 1, stride: (1, 1), padding: .valid))
        GradientCheck.check("fusedConv2d pre+post", inputs: [x, w, shift1, scale1, shift2, scale2],
                            engine: { fusedConv2d($0[0], pre: Self.norm(scale: $0[3], shift: $0[2]), conv: ConvolutionParameters(weight: $0[1]),
                                                  post: Self.norm(scale: $0[5], shift: $0[4])) },
                            reference: {
                                let e = Double(Self.epsilon)
                                let y = refBatchNormTraining($0[0], scale: $0[3].data, shift: $0[2].data, epsilon: e, relu: true).y
                                return refBatchNormTraining(refConv2d(y, $0[1], rg), scale: $0[5].data, shift: $0[4].data, epsilon: e).y
                            })
    }

    /// relu(bn(conv(x))) with an input that needs no gradient (a stem on the images) and a batch
    /// norm without scale: the weight and shift gradients (a bias before batch norm has none).
    func testFusedConvWithPostNormAndReLUGradients() {
        let x = randomDArray([2, 6, 5, 2], seed: 71, std: 1.2)
        let w = randomDArray([4, 2, 3, 3], seed: 72, std: 0.5), shift = randomDArray([4], seed: 74)
        let g = WindowGeometry(inputH: 6, inputW: 5, kernelH: 3, kernelW: 3, stride: (2, 2), padding: .symmetric(1))
        let rg = RefWindow(g)
        GradientCheck.check("fusedConv2d post+relu", inputs: [x, w, shift], wrt: [1, 2],
                            engine: { fusedConv2d($0[0], conv: ConvolutionParameters(weight: $0[1], stride: 2, padding: .symmetric(1)),
                                                  post: Self.norm(scale: nil, shift: $0[2]), postReLU: true) },
                            reference: {
                                refBatchNormTraining(refConv2d($0[0], $0[1], rg), scale: nil, shift: $0[2].data,
                                                     epsilon: Double(Self.epsilon), relu: true).y
                            })
    }

    /// Both batch norms of a link move their running statistics exactly as `batchNorm(training: true)`.
    func testFusedConvUpdatesRunningStatisticsLikeBatchNorm() {
        let x = randomTensor([2, 4, 4, 3], seed: 41, std: 2, mean: 1), w = randomTensor([2, 3, 1, 1], seed: 42)
        func fresh(_ c: Int) -> BatchNormStatistics { BatchNormStatistics(mean: Tensor(zeros: [c]), variance: Tensor(repeating: 1, shape: [c])) }
        let (pre, post, preExpected, postExpected) = (fresh(3), fresh(2), fresh(3), fresh(2))
        _ = fusedConv2d(x, pre: BatchNormParameters(scale: nil, shift: Tensor(zeros: [3]), statistics: pre, momentum: 0.3),
                        conv: ConvolutionParameters(weight: w),
                        post: BatchNormParameters(scale: nil, shift: Tensor(zeros: [2]), statistics: post, momentum: 0.2))
        let r = batchNorm(x, scale: nil, shift: Tensor(zeros: [3]), statistics: preExpected, training: true, momentum: 0.3, relu: true)
        _ = batchNorm(conv2d(r, w), scale: nil, shift: Tensor(zeros: [2]), statistics: postExpected, training: true, momentum: 0.2)
        XCTAssertEqual(pre.mean.toArray(), preExpected.mean.toArray())
        XCTAssertEqual(pre.variance.toArray(), preExpected.variance.toArray())
        XCTAssertEqual(post.mean.toArray(), postExpected.mean.toArray())
        XCTAssertEqual(post.variance.toArray(), postExpected.variance.toArray())
        XCTAssertNotEqual(pre.mean.toArray(), [0, 0, 0])
        XCTAssertNotEqual(post.mean.toArray(), [0, 0])
    }

    /// A link's batch norm over fresh running statistics (the gradient checks don't look at them).
    static func norm(scale: Tensor?, shift: Tensor) -> BatchNormParameters {
        let c = shift.count
        return BatchNormParameters(scale: scale, shift: shift, statistics: BatchNormStatistics(mean: Tensor(zeros: [c]), variance: Tensor(repeating: 1, shape: [c])),
                                   epsilon: epsilon)
    }

    /// Training forward and backward on a blocked (nChw8c, nChw16c) input give the reference's
    /// values, and the outputs stay blocked.
    func testBlockedLayoutForwardAndBackwardMatchReference() {
        for layout in [MemoryLayout4D.nChw8c, .nChw16c] { for relu in [false, true] {
            let c = 32
            let x = randomDArray([2, 7, 5, c], seed: 51, std: 2, mean: 0.5)
            let scale = randomDArray([c], seed: 52), shift = randomDArray([c], seed: 53), dy = randomDArray([2, 7, 5, c], seed: 54)
            let xt = x.tensor(), dyt = dy.tensor()
            convertLayout(xt, to: layout)
            convertLayout(dyt, to: layout)
            let (y, mean, variance, ws) = Backend.current.batchNormTraining(xt, scale: scale.tensor(), shift: shift.tensor(), epsilon: Self.epsilon, relu: relu)
            XCTAssertEqual(y.storage.layout, layout)
            let ref = refBatchNormTraining(x, scale: scale.data, shift: shift.data, epsilon: Double(Self.epsilon), relu: relu)
            assertClose(y, ref.y, tolerance: 1e-4, "\(layout) forward relu \(relu)")
            let (dx, dscale, dshift) = Backend.current.batchNormBackward(dyt, input: xt, scale: scale.tensor(), mean: mean, variance: variance,
                                                                         epsilon: Self.epsilon, relu: relu, workspace: ws, globalStatistics: false)
            let r = refBatchNormBackward(dy, x, y: relu ? ref.y : nil, scale: scale.data, mean: ref.mean, variance: ref.variance,
                                         epsilon: Double(Self.epsilon), globalStatistics: false)
            assertClose(dx, r.dx, tolerance: 1e-4, "\(layout) dx relu \(relu)")
            assertClose(dshift, DArray(shape: [c], data: r.dshift), tolerance: 1e-4, "dshift relu \(relu)")
            assertClose(dscale!, DArray(shape: [c], data: r.dscale), tolerance: 1e-4, "dscale relu \(relu)")
        } }
    }
}
