import XCTest
@testable import ResNetEngine

/// oneDNN convolution forward, backward-data and backward-weights against the float64 reference
/// on odd sizes, strides, paddings and dilations; the fused bias/residual/ReLU post-ops; and the
/// `conv2d` op's gradients (input, weights, bias, residual) against finite differences.
final class ConvolutionTests: XCTestCase {
    struct Case {
        var n = 2, h = 7, w = 9, c = 3, o = 4
        var k = 3, stride = 1, dilation = 1
        var padding: Padding = .valid
        var bias = true
    }

    /// Odd and even sizes; kernel 1, 3, 5; stride 1, 2, 3; dilation 1, 2; valid, same, asymmetric explicit.
    static let cases: [Case] = [
        Case(k: 3, stride: 1, padding: .same),
        Case(c: 5, o: 3, k: 3, stride: 2, padding: .valid),
        Case(h: 8, w: 8, c: 4, o: 5, k: 3, stride: 2, padding: .valid, bias: false),   // drops the last row and column
        Case(k: 3, stride: 2, dilation: 2, padding: .explicit(top: 1, bottom: 2, left: 0, right: 1)),
        Case(c: 4, o: 4, k: 1, stride: 2, padding: .valid),
        Case(k: 1, stride: 1, padding: .valid, bias: false),
        Case(c: 5, o: 3, k: 5, stride: 3, padding: .explicit(top: 2, bottom: 1, left: 2, right: 0)),
        Case(c: 4, o: 3, k: 5, stride: 1, padding: .same),
        Case(h: 9, w: 7, c: 3, o: 5, k: 3, stride: 3, dilation: 2, padding: .same),
        Case(h: 8, w: 10, c: 3, o: 4, k: 3, stride: 2, padding: .same),
        // Channels in whole blocks of 8: these run in oneDNN's blocked nChw8c layout where that is the choice.
        Case(n: 2, h: 7, w: 5, c: 8, o: 16, k: 3, stride: 1, padding: .same),
        Case(n: 3, h: 9, w: 6, c: 16, o: 8, k: 3, stride: 2, dilation: 2, padding: .explicit(top: 1, bottom: 2, left: 2, right: 0)),
        Case(n: 2, h: 5, w: 7, c: 16, o: 24, k: 1, stride: 2, padding: .valid, bias: false),
        // Whole blocks of 16 too: nChw16c where that is the choice (AVX-512) or forced.
        Case(n: 2, h: 7, w: 5, c: 16, o: 32, k: 3, stride: 1, padding: .symmetric(1)),
        Case(n: 1, h: 9, w: 11, c: 48, o: 16, k: 3, stride: 2, padding: .symmetric(1), bias: false),
        Case(n: 3, h: 5, w: 3, c: 32, o: 48, k: 1, stride: 1, padding: .valid),
    ]

    /// Forward: relative error ≤ 1e-4 of the reference's largest magnitude (float32 sums of ≤ 125 terms).
    static let tolerance = 1e-4

    func testBackendConvolutionMatchesReference() { checkCases() }

    /// The same cases with each blocked layout forced (on a CPU whose kernels want the other one,
    /// oneDNN's reference kernels run them: the engine's reorders and descriptors are what is tested).
    func testBackendConvolutionMatchesReferenceInEitherBlockedLayout() {
        for (option, layout) in [(EngineOptions.ActivationLayout.nChw8c, MemoryLayout4D.nChw8c), (.nChw16c, .nChw16c)] {
            EngineContext(options: EngineOptions(activationLayout: option)).run {
                checkCases()
                let y = Backend.current.convolution(Tensor.randomNormal([1, 5, 4, 16], seed: 1), weight: Tensor.randomNormal([32, 16, 3, 3], seed: 2),
                                                    bias: nil, geometry: WindowGeometry(inputH: 5, inputW: 4, kernelH: 3, kernelW: 3),
                                                    residual: nil, relu: false, training: true)
                XCTAssertEqual(y.storage.layout, layout, "whole blocks take the forced layout")
            }
        }
    }

    private func checkCases() {
        for (i, t) in Self.cases.enumerated() {
            let x = randomDArray([t.n, t.h, t.w, t.c], seed: UInt64(100 + i))
            let w = randomDArray([t.o, t.c, t.k, t.k], seed: UInt64(200 + i), std: 0.3)
            let b = t.bias ? randomDArray([t.o], seed: UInt64(300 + i)) : nil
            let g = WindowGeometry(inputH: t.h, inputW: t.w, kernelH: t.k, kernelW: t.k, stride: (t.stride, t.stride),
                                   dilation: (t.dilation, t.dilation), padding: t.padding)
            let rg = RefWindow(g)
            let what = "case \(i) \(g) \(EngineContext.current.options.activationLayout)"
            for training in [false, true] {
                let y = Backend.current.convolution(x.tensor(), weight: w.tensor(), bias: b?.tensor(), geometry: g,
                                                    residual: nil, relu: false, training: training)
                assertClose(y, refConv2d(x, w, bias: b, rg), tolerance: Self.tolerance, "forward \(what) training \(training)")
            }
            let dy = randomDArray([t.n, rg.outputH(t.h), rg.outputW(t.w), t.o], seed: UInt64(400 + i))
            let dx = Backend.current.convolutionBackwardData(dy.tensor(), weight: w.tensor(), geometry: g, inputShape: x.shape)
            assertClose(dx, refConvBackwardData(dy, w, rg, inputShape: x.shape), tolerance: Self.tolerance, "backward data \(what)")
            let (dw, db) = Backend.current.convolutionBackwardWeights(dy.tensor(), input: x.tensor(), geometry: g,
                                                                      weightShape: w.shape, withBias: t.bias)
            let ref = refConvBackwardWeights(dy, x, rg, weightShape: w.shape)
            assertClose(dw, ref.weight, tolerance: Self.tolerance, "backward weights \(what)")
            if t.bias {
                XCTAssertNotNil(db, what)
                if let db { assertClose(db, ref.bias, tolerance: Self.tolerance, "backward bias \(what)") }
            } else {
                XCTAssertNil(db, what)
            }
        }
    }

    func testFusedResidualAndReluPostOps() {
        let x = randomDArray([2, 7, 9, 4], seed: 1)
        let w = randomDArray([5, 4, 3, 3], seed: 2, std: 0.3)
        let b = randomDArray([5], seed: 3)
        let g = WindowGeometry(inputH: 7, inputW: 9, kernelH: 3, kernelW: 3, stride: (2, 2), padding: .symmetric(1))
        let rg = RefWindow(g)
        let r = randomDArray([2, rg.outputH(7), rg.outputW(9), 5], seed: 4)
        for training in [false, true] {
            for (residual, relu) in [(true, false), (false, true), (true, true)] {
                let y = Backend.current.convolution(x.tensor(), weight: w.tensor(), bias: b.tensor(), geometry: g,
                                                    residual: residual ? r.tensor() : nil, relu: relu, training: training)
                let expected = refConv2d(x, w, bias: b, rg, residual: residual ? r : nil, relu: relu)
                assertClose(y, expected, tolerance: Self.tolerance, "residual \(residual) relu \(relu) training \(training)")
                if relu { XCTAssertTrue(y.toArray().allSatisfy { $0 >= 0 }) }
                if relu { XCTAssertTrue(y.toArray().contains(0), "ReLU clipped nothing: the check would be vacuous") }
            }
        }
    }

    /// Inference keeps weights reordered into oneDNN's blocked layout between calls; changing the
    /// weights through `withMutableHostValues` or `assign` must be seen by the next call, not the stale copy.
    func testInferenceWeightCacheFollowsWeightChanges() {
        let x = randomDArray([2, 9, 7, 8], seed: 21)
        var wd = randomDArray([16, 8, 3, 3], seed: 22, std: 0.3)
        let w = wd.tensor()
        let g = WindowGeometry(inputH: 9, inputW: 7, kernelH: 3, kernelW: 3, stride: (1, 1), padding: .symmetric(1))
        func check(_ what: String) {
            for _ in 0..<2 {
                let y = Backend.current.convolution(x.tensor(), weight: w, bias: nil, geometry: g, residual: nil, relu: false, training: false)
                assertClose(y, refConv2d(x, wd, RefWindow(g)), tolerance: Self.tolerance, what)
            }
        }
        let weightCache = EngineContext.current.cpu.weightCache
        weightCache.removeAll()
        check("first call")
        XCTAssertGreaterThan(weightCache.bytes, 0, "inference should keep the blocked weights")
        w.withMutableHostValues { $0[5] += 1 }; wd.data[5] += 1
        check("after a write through withMutableHostValues")
        wd = randomDArray([16, 8, 3, 3], seed: 23, std: 0.3)
        w.assign(wd.tensor())
        check("after assign")
    }

    func testConv2dOpRecordsOnlyWhenNeededAndMatchesInference() {
        let x = randomDArray([2, 7, 9, 3], seed: 5), w = randomDArray([4, 3, 3, 3], seed: 6, std: 0.3)
        let r = randomDArray([2, 7, 9, 4], seed: 7)
        let inference = GradMode.withoutGradient { conv2d(x.tensor(), w.tensor(requiresGrad: true), padding: .same, residual: r.tensor(), relu: true) }
        XCTAssertNil(inference.gradFn)
        let training = conv2d(x.tensor(), w.tensor(requiresGrad: true), padding: .same, residual: r.tensor(), relu: true)
        XCTAssertNotNil(training.gradFn)
        XCTAssertEqual(inference.toArray(), training.toArray())
        let constant = conv2d(x.tensor(), w.tensor(), padding: .same)
        XCTAssertNil(constant.gradFn, "no input needs a gradient: nothing should be recorded")
    }

    // MARK: Gradients through the op

    func testConv2dGradients() {
        let x = randomDArray([2, 7, 9, 3], seed: 10)
        let w = randomDArray([4, 3, 3, 3], seed: 11, std: 0.3)
        let b = randomDArray([4], seed: 12)
        GradientCheck.check("conv2d same + bias", inputs: [x, w, b],
                            engine: { conv2d($0[0], $0[1], bias: $0[2], padding: .same) },
                            reference: { refConv2d($0[0], $0[1], bias: $0[2], RefWindow(kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pb: 1, pl: 1, pr: 1)) })
        // The first layer: the images need no gradient, only the weights and bias do.
        GradientCheck.check("conv2d, parameters only", inputs: [x, w, b], wrt: [1, 2],
                            engine: { conv2d($0[0], $0[1], bias: $0[2], stride: 2, padding: .same) },
                            reference: { refConv2d($0[0], $0[1], bias: $0[2], RefWindow(kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pb: 1, pl: 1, pr: 1)) })
    }

    func testConv2dStridedDilatedGradients() {
        let x = randomDArray([2, 7, 9, 3], seed: 13)
        let w = randomDArray([5, 3, 3, 3], seed: 14, std: 0.3)
        GradientCheck.check("conv2d s2 d2 explicit", inputs: [x, w],
                            engine: { conv2d($0[0], $0[1], stride: 2, padding: .explicit(top: 2, bottom: 1, left: 0, right: 2), dilation: 2) },
                            reference: { refConv2d($0[0], $0[1], RefWindow(kh: 3, kw: 3, sh: 2, sw: 2, dh: 2, dw: 2, pt: 2, pb: 1, pl: 0, pr: 2)) })
        let w5 = randomDArray([3, 3, 5, 5], seed: 15, std: 0.2)
        GradientCheck.check("conv2d k5 s3 valid", inputs: [x, w5],
                            engine: { conv2d($0[0], $0[1], stride: 3) },
                            reference: { refConv2d($0[0], $0[1], RefWindow(kh: 5, kw: 5, sh: 3, sw: 3)) })
    }

    func testConv2dFusedResidualReluGradients() {
        let x = randomDArray([2, 7, 9, 3], seed: 16)
        let w = randomDArray([4, 3, 1, 1], seed: 17, std: 0.5)
        let b = randomDArray([4], seed: 18, std: 0.2)
        let g = RefWindow(kh: 1, kw: 1, sh: 2, sw: 2)
        let r = randomDArray([2, g.outputH(7), g.outputW(9), 4], seed: 19)
        GradientCheck.check("conv2d 1x1/2 + bias + residual + relu", inputs: [x, w, b, r],
                            engine: { conv2d($0[0], $0[1], bias: $0[2], stride: 2, residual: $0[3], relu: true) },
                            reference: { refConv2d($0[0], $0[1], bias: $0[2], g, residual: $0[3], relu: true) })
    }

    func testConv2dSameOpGradients() {
        let x = randomDArray([2, 8, 8, 3], seed: 20)
        let w = randomDArray([4, 3, 3, 3], seed: 21, std: 0.3)
        GradientCheck.check("conv2dSame k3 s2 on 8x8", inputs: [x, w],
                            engine: { conv2dSame($0[0], $0[1], stride: 2) },
                            reference: { refConv2d(refPad($0[0], top: 1, bottom: 1, left: 1, right: 1), $0[1], RefWindow(kh: 3, kw: 3, sh: 2, sw: 2)) })
    }
}
