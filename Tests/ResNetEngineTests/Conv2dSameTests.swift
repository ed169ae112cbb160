import XCTest
@testable import ResNetEngine

/// `conv2dSame` against the seed's (TF-slim's) definition, on even inputs where it differs from
/// TF's 'SAME': for stride 1, 'SAME'; for stride > 1, pad_total = k_eff - 1, pad_beg = pad_total // 2,
/// pad_end = pad_total - pad_beg, an explicit `tf.pad`, then a 'VALID' convolution.
final class Conv2dSameTests: XCTestCase {
    static let tolerance = 1e-4

    /// The seed's definition, written out with an explicit pad then a VALID reference convolution.
    func seedConv2dSame(_ x: DArray, _ w: DArray, stride: Int, dilation: Int = 1) -> DArray {
        let k = w.shape[2]
        if stride == 1 {
            // TF 'SAME' at stride 1: total = k_eff - 1, split with the extra pixel at the end.
            let total = (k - 1) * dilation
            let (b, e) = (total / 2, total - total / 2)
            return refConv2d(x, w, RefWindow(kh: k, kw: k, sh: 1, sw: 1, dh: dilation, dw: dilation, pt: b, pb: e, pl: b, pr: e))
        }
        let kEff = k + (k - 1) * (dilation - 1)
        let padTotal = kEff - 1
        let padBeg = padTotal / 2, padEnd = padTotal - padBeg
        let padded = refPad(x, top: padBeg, bottom: padEnd, left: padBeg, right: padEnd)
        return refConv2d(padded, w, RefWindow(kh: k, kw: k, sh: stride, sw: stride, dh: dilation, dw: dilation))
    }

    func testEvenInputStride2DiffersFromSameAndMatchesSeed() {
        let x = randomDArray([2, 8, 8, 3], seed: 1)
        let w = randomDArray([4, 3, 3, 3], seed: 2, std: 0.3)
        let ours = conv2dSame(x.tensor(), w.tensor(), stride: 2)
        let seed = seedConv2dSame(x, w, stride: 2)
        XCTAssertEqual(ours.shape, [2, 4, 4, 4])
        assertClose(ours, seed, tolerance: Self.tolerance, "conv2dSame 8x8 k3 s2")

        // TF's 'SAME' pads (0, 1) here instead of (1, 1): a different grid of windows.
        let same = conv2d(x.tensor(), w.tensor(), stride: 2, padding: .same)
        XCTAssertEqual(same.shape, ours.shape)
        let sameRef = refConv2d(x, w, RefWindow(kh: 3, kw: 3, sh: 2, sw: 2, pt: 0, pb: 1, pl: 0, pr: 1))
        assertClose(same, sameRef, tolerance: Self.tolerance, "conv2d .same 8x8 k3 s2")
        let difference = relativeError(ours.toArray().map(Double.init), same.toArray().map(Double.init))
        XCTAssertGreaterThan(difference, 0.1, "conv2dSame should differ from 'SAME' on an even input")
    }

    func testEvenInputStemKernel7() {
        // The ResNet stem's 7x7/2 on an even input: conv2dSame pads (3, 3), 'SAME' pads (2, 3).
        let x = randomDArray([1, 16, 16, 3], seed: 3)
        let w = randomDArray([2, 3, 7, 7], seed: 4, std: 0.1)
        let ours = conv2dSame(x.tensor(), w.tensor(), stride: 2)
        assertClose(ours, seedConv2dSame(x, w, stride: 2), tolerance: Self.tolerance, "conv2dSame 16x16 k7 s2")
        let same = conv2d(x.tensor(), w.tensor(), stride: 2, padding: .same)
        XCTAssertGreaterThan(relativeError(ours.toArray().map(Double.init), same.toArray().map(Double.init)), 0.1)
    }

    func testStride1IsSameAndOddStride2AgreesWithSame() {
        let x = randomDArray([2, 8, 8, 3], seed: 5)
        let w = randomDArray([4, 3, 3, 3], seed: 6, std: 0.3)
        assertClose(conv2dSame(x.tensor(), w.tensor(), stride: 1), seedConv2dSame(x, w, stride: 1),
                    tolerance: Self.tolerance, "conv2dSame stride 1")
        // On an odd input both definitions pad (1, 1): they coincide.
        let odd = randomDArray([2, 9, 9, 3], seed: 7)
        let a = conv2dSame(odd.tensor(), w.tensor(), stride: 2)
        let b = conv2d(odd.tensor(), w.tensor(), stride: 2, padding: .same)
        XCTAssertEqual(a.toArray(), b.toArray())
        assertClose(a, seedConv2dSame(odd, w, stride: 2), tolerance: Self.tolerance, "conv2dSame 9x9 s2")
    }

    func testDilatedStride2() {
        let x = randomDArray([2, 10, 10, 3], seed: 8)
        let w = randomDArray([3, 3, 3, 3], seed: 9, std: 0.3)
        assertClose(conv2dSame(x.tensor(), w.tensor(), stride: 2, dilation: 2), seedConv2dSame(x, w, stride: 2, dilation: 2),
                    tolerance: Self.tolerance, "conv2dSame 10x10 k3 s2 d2")
    }
}
