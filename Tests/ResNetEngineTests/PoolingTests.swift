import XCTest
@testable import ResNetEngine

/// Max and average (include / exclude padding) pooling, forward and backward, against the float64
/// reference on odd sizes, strides, paddings and dilations; and the pooling ops' gradients.
final class PoolingTests: XCTestCase {
    static let tolerance = 1e-5

    struct Case { var h: Int, w: Int, k: Int, stride: Int, dilation: Int, padding: Padding }
    static let cases: [Case] = [
        Case(h: 7, w: 9, k: 3, stride: 2, dilation: 1, padding: .symmetric(1)),
        Case(h: 7, w: 9, k: 3, stride: 2, dilation: 1, padding: .same),
        Case(h: 8, w: 8, k: 3, stride: 2, dilation: 1, padding: .same),
        Case(h: 8, w: 10, k: 3, stride: 2, dilation: 1, padding: .valid),
        Case(h: 7, w: 9, k: 2, stride: 2, dilation: 1, padding: .valid),
        Case(h: 7, w: 9, k: 3, stride: 3, dilation: 1, padding: .explicit(top: 0, bottom: 2, left: 1, right: 0)),
        Case(h: 9, w: 7, k: 5, stride: 1, dilation: 1, padding: .explicit(top: 2, bottom: 1, left: 2, right: 2)),
        Case(h: 7, w: 9, k: 3, stride: 1, dilation: 2, padding: .same),
        Case(h: 7, w: 9, k: 1, stride: 2, dilation: 1, padding: .valid),
    ]

    func testBackendPoolingMatchesReference() {
        let kinds: [(PoolKind, RefPoolKind)] = [(.max, .max), (.averageIncludePadding, .averageIncludePadding),
                                                (.averageExcludePadding, .averageExcludePadding)]
        for (i, t) in Self.cases.enumerated() {
            let x = randomDArray([2, t.h, t.w, 5], seed: UInt64(30 + i))
            let g = WindowGeometry(inputH: t.h, inputW: t.w, kernelH: t.k, kernelW: t.k, stride: (t.stride, t.stride),
                                   dilation: (t.dilation, t.dilation), padding: t.padding)
            let rg = RefWindow(g)
            for (kind, refKind) in kinds {
                let what = "\(kind) \(g)"
                let ref = refPool(x, refKind, rg)
                let inference = Backend.current.pool(x.tensor(), kind: kind, geometry: g, training: false)
                assertClose(inference.y, ref, tolerance: Self.tolerance, "forward inference \(what)")
                let training = Backend.current.pool(x.tensor(), kind: kind, geometry: g, training: true)
                assertClose(training.y, ref, tolerance: Self.tolerance, "forward training \(what)")
                let dy = randomDArray(ref.shape, seed: UInt64(60 + i))
                let dx = Backend.current.poolBackward(dy.tensor(), kind: kind, geometry: g, inputShape: x.shape, workspace: training.workspace)
                assertClose(dx, refPoolBackward(dy, x, refKind, rg), tolerance: Self.tolerance, "backward \(what)")
            }
        }
    }

    func testIncludeAndExcludePaddingDiffer() {
        // At the border, include-padding divides by the full window, exclude by the in-bounds taps.
        let x = Tensor(repeating: 1, shape: [1, 4, 4, 1])
        let inc = avgPool2d(x, kernel: 3, stride: 1, padding: .symmetric(1), countIncludePad: true)
        let exc = avgPool2d(x, kernel: 3, stride: 1, padding: .symmetric(1), countIncludePad: false)
        XCTAssertEqual(inc.toArray()[0], 4.0 / 9.0, accuracy: 1e-6)   // corner: 4 ones in a 3x3 window
        XCTAssertEqual(inc.toArray()[1], 6.0 / 9.0, accuracy: 1e-6)   // edge: 6 ones
        XCTAssertEqual(inc.toArray()[5], 1, accuracy: 1e-6)           // interior
        XCTAssertTrue(exc.toArray().allSatisfy { abs($0 - 1) < 1e-6 })
    }

    func testMaxPoolGradients() {
        let x = randomDArray([2, 7, 9, 3], seed: 1)
        GradientCheck.check("maxPool2d 3x3/2 pad 1", inputs: [x],
                            engine: { maxPool2d($0[0], kernel: 3, stride: 2, padding: .symmetric(1)) },
                            reference: { refPool($0[0], .max, RefWindow(kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pb: 1, pl: 1, pr: 1)) })
        GradientCheck.check("maxPool2d 3x3/2 same even", inputs: [randomDArray([2, 8, 8, 3], seed: 2)],
                            engine: { maxPool2d($0[0], kernel: 3, stride: 2, padding: .same) },
                            reference: { refPool($0[0], .max, RefWindow(kh: 3, kw: 3, sh: 2, sw: 2, pt: 0, pb: 1, pl: 0, pr: 1)) })
    }

    func testAvgPoolGradients() {
        let x = randomDArray([2, 7, 9, 3], seed: 3)
        let g = RefWindow(kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pb: 2, pl: 0, pr: 1)
        let padding = Padding.explicit(top: 1, bottom: 2, left: 0, right: 1)
        GradientCheck.check("avgPool2d include padding", inputs: [x],
                            engine: { avgPool2d($0[0], kernel: 3, stride: 2, padding: padding, countIncludePad: true) },
                            reference: { refPool($0[0], .averageIncludePadding, g) })
        GradientCheck.check("avgPool2d exclude padding", inputs: [x],
                            engine: { avgPool2d($0[0], kernel: 3, stride: 2, padding: padding, countIncludePad: false) },
                            reference: { refPool($0[0], .averageExcludePadding, g) })
    }

    func testGlobalAvgPool() {
        let x = randomDArray([2, 7, 9, 5], seed: 4)
        GradientCheck.check("globalAvgPool", inputs: [x],
                            engine: { globalAvgPool($0[0]) },
                            reference: { a in
                                let p = refPool(a[0], .averageIncludePadding, RefWindow(kh: 7, kw: 9, sh: 1, sw: 1))
                                return DArray(shape: [2, 5], data: p.data)
                            })
        // By hand: the mean of every channel.
        let y = globalAvgPool(x.tensor())
        for n in 0..<2 { for c in 0..<5 {
            var s = 0.0
            for i in 0..<(7 * 9) { s += x.data[(n * 63 + i) * 5 + c] }
            XCTAssertEqual(Double(y.toArray()[n * 5 + c]), s / 63, accuracy: 1e-5)
        } }
    }
}
