import XCTest
@testable import ResNetEngine

/// Padding resolution and output sizes, against values worked out by hand from TF's and
/// PyTorch's definitions (the reference kernels trust these resolved paddings).
final class GeometryTests: XCTestCase {
    func testValidPaddingDropsIncompleteWindows() {
        let g = WindowGeometry(inputH: 8, inputW: 9, kernelH: 3, kernelW: 3, stride: (2, 2), padding: .valid)
        XCTAssertEqual([g.padTop, g.padBottom, g.padLeft, g.padRight], [0, 0, 0, 0])
        XCTAssertEqual(g.outputH, 3)   // floor((8 - 3) / 2) + 1
        XCTAssertEqual(g.outputW, 4)   // floor((9 - 3) / 2) + 1
    }

    func testSamePaddingMatchesTensorFlow() {
        // TF: out = ceil(in / s); total = max((out - 1) s + k_eff - in, 0); begin = total / 2.
        let odd = WindowGeometry(inputH: 7, inputW: 9, kernelH: 3, kernelW: 3, stride: (2, 2), padding: .same)
        XCTAssertEqual([odd.padTop, odd.padBottom, odd.padLeft, odd.padRight], [1, 1, 1, 1])
        XCTAssertEqual([odd.outputH, odd.outputW], [4, 5])
        let even = WindowGeometry(inputH: 8, inputW: 8, kernelH: 3, kernelW: 3, stride: (2, 2), padding: .same)
        XCTAssertEqual([even.padTop, even.padBottom, even.padLeft, even.padRight], [0, 1, 0, 1])
        XCTAssertEqual([even.outputH, even.outputW], [4, 4])
        let dilated = WindowGeometry(inputH: 7, inputW: 9, kernelH: 3, kernelW: 3, stride: (1, 1), dilation: (2, 2), padding: .same)
        XCTAssertEqual([dilated.padTop, dilated.padBottom, dilated.padLeft, dilated.padRight], [2, 2, 2, 2])
        XCTAssertEqual([dilated.outputH, dilated.outputW], [7, 9])
        let stem = WindowGeometry(inputH: 224, inputW: 224, kernelH: 7, kernelW: 7, stride: (2, 2), padding: .same)
        XCTAssertEqual([stem.padTop, stem.padBottom], [2, 3])
        XCTAssertEqual(stem.outputH, 112)
    }

    func testConv2dSamePaddingIsTFSlims() {
        // pad_total = k_eff - 1, pad_beg = pad_total // 2, pad_end = pad_total - pad_beg, for stride > 1.
        XCTAssertEqual(Padding.conv2dSame(kernel: 3, stride: 2), .explicit(top: 1, bottom: 1, left: 1, right: 1))
        XCTAssertEqual(Padding.conv2dSame(kernel: 7, stride: 2), .explicit(top: 3, bottom: 3, left: 3, right: 3))
        XCTAssertEqual(Padding.conv2dSame(kernel: 4, stride: 2), .explicit(top: 1, bottom: 2, left: 1, right: 2))
        XCTAssertEqual(Padding.conv2dSame(kernel: 3, stride: 2, dilation: 2), .explicit(top: 2, bottom: 2, left: 2, right: 2))
        XCTAssertEqual(Padding.conv2dSame(kernel: 3, stride: 1), .same)
    }

    func testExplicitAsymmetricPadding() {
        let g = WindowGeometry(inputH: 7, inputW: 9, kernelH: 3, kernelW: 5, stride: (2, 3),
                               padding: .explicit(top: 0, bottom: 2, left: 1, right: 0))
        XCTAssertEqual([g.padTop, g.padBottom, g.padLeft, g.padRight], [0, 2, 1, 0])
        XCTAssertEqual(g.outputH, 4)   // (7 + 2 - 3) / 2 + 1
        XCTAssertEqual(g.outputW, 2)   // (9 + 1 - 5) / 3 + 1
        XCTAssertEqual(Padding.symmetric(2), .explicit(top: 2, bottom: 2, left: 2, right: 2))
    }
}
