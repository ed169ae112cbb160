import XCTest
@testable import ResNetEngine

/// Inner product (x [N, in] times weights [out, in]ᵀ plus bias) forward and backward against the
/// float64 reference, and the `linear` op's gradients.
final class LinearTests: XCTestCase {
    static let tolerance = 1e-5

    func testBackendInnerProductMatchesReference() {
        for (i, (n, k, o)) in [(2, 7, 5), (3, 13, 4), (1, 9, 11)].enumerated() {
            let x = randomDArray([n, k], seed: UInt64(10 + i)), w = randomDArray([o, k], seed: UInt64(20 + i))
            let b = randomDArray([o], seed: UInt64(30 + i)), dy = randomDArray([n, o], seed: UInt64(40 + i))
            let what = "\(n)x\(k) -> \(o)"
            assertClose(Backend.current.linear(x.tensor(), weight: w.tensor(), bias: b.tensor()), refLinear(x, w, bias: b),
                        tolerance: Self.tolerance, "forward with bias \(what)")
            assertClose(Backend.current.linear(x.tensor(), weight: w.tensor(), bias: nil), refLinear(x, w),
                        tolerance: Self.tolerance, "forward without bias \(what)")
            let ref = refLinearBackward(dy, x, w)
            assertClose(Backend.current.linearBackwardData(dy.tensor(), weight: w.tensor()), ref.dx, tolerance: Self.tolerance, "dx \(what)")
            let (dw, db) = Backend.current.linearBackwardWeights(dy.tensor(), input: x.tensor(), withBias: true)
            assertClose(dw, ref.dw, tolerance: Self.tolerance, "dw \(what)")
            assertClose(db!, ref.db, tolerance: Self.tolerance, "db \(what)")
            let (dw2, db2) = Backend.current.linearBackwardWeights(dy.tensor(), input: x.tensor(), withBias: false)
            assertClose(dw2, ref.dw, tolerance: Self.tolerance, "dw without bias \(what)")
            XCTAssertNil(db2)
        }
    }

    func testLinearGradients() {
        let x = randomDArray([3, 7], seed: 1), w = randomDArray([5, 7], seed: 2), b = randomDArray([5], seed: 3)
        GradientCheck.check("linear + bias", inputs: [x, w, b],
                            engine: { linear($0[0], $0[1], bias: $0[2]) },
                            reference: { refLinear($0[0], $0[1], bias: $0[2]) })
        GradientCheck.check("linear", inputs: [x, w],
                            engine: { linear($0[0], $0[1]) },
                            reference: { refLinear($0[0], $0[1]) })
        // Only the weights need a gradient (a frozen input, as for the first layer).
        GradientCheck.check("linear, weights only", inputs: [x, w, b], wrt: [1, 2],
                            engine: { linear($0[0], $0[1], bias: $0[2]) },
                            reference: { refLinear($0[0], $0[1], bias: $0[2]) })
    }
}
