import XCTest
@testable import ResNetEngine

/// Gradient checking against float64 finite differences.
///
/// For an op f and inputs x₁…xₖ, the loss is the weighted sum L = Σ f(x) ⊙ R with a fixed random R
/// (so every output element matters with a different weight, and a gradient that is merely
/// proportional or permuted fails). The analytic gradients come from the engine:
/// `sum(multiply(f(x), R)).backward()`. The numeric ones are central differences of
/// L_ref = Σ f_ref(x) ⊙ R, where f_ref is the plain-Swift float64 reference of the same op and the
/// inputs are perturbed in Double, so there is no float32 finite-difference noise:
///     ∂L/∂xᵢ ≈ (L_ref(x + h eᵢ) − L_ref(x − h eᵢ)) / 2h,   h = 1e-6.
/// The comparison is relative: max |analytic − numeric| / max |numeric| ≤ tolerance (2e-3 by
/// default: float32 kernels against float64 differences; any wrong formula is off by O(1)).
struct GradientCheck {
    /// Default relative tolerance for the gradient comparison.
    static let tolerance = 2e-3
    /// Default relative tolerance for the forward comparison (float32 engine vs float64 reference).
    static let forwardTolerance = 1e-4
    static let step = 1e-6

    /// Checks the forward output against the reference, then the gradient of every input whose
    /// index is in `wrt` (all by default). Inputs are rounded to float32 first, so the engine and
    /// the reference see identical values. Tensors with more than `maxCoordinates` elements are
    /// checked on a seeded random subset of that many coordinates.
    static func check(_ name: String, inputs rawInputs: [DArray], wrt: [Int]? = nil,
                      tolerance: Double = GradientCheck.tolerance,
                      forwardTolerance: Double = GradientCheck.forwardTolerance,
                      maxCoordinates: Int = 400, seed: UInt64 = 99,
                      engine: ([Tensor]) -> Tensor, reference: ([DArray]) -> DArray,
                      file: StaticString = #filePath, line: UInt = #line) {
        let inputs = rawInputs.map { DArray(shape: $0.shape, data: $0.data.map { Double(Float($0)) }) }
        let checked = wrt ?? Array(inputs.indices)
        let tensors = inputs.enumerated().map { i, a in a.tensor(requiresGrad: checked.contains(i)) }

        // Analytic: backward of the weighted sum through the engine.
        let y = engine(tensors)
        let expected = reference(inputs)
        XCTAssertEqual(y.shape, expected.shape, "\(name): output shape", file: file, line: line)
        guard y.shape == expected.shape else { return }
        let err = relativeError(y.toArray().map(Double.init), expected.data)
        XCTAssertLessThanOrEqual(err, forwardTolerance, "\(name): forward relative error \(err)", file: file, line: line)

        let weights = randomDArray(y.shape, seed: seed &+ 7)
        let loss = sum(multiply(y, weights.tensor()))
        loss.backward()

        // Numeric: central differences of the float64 reference.
        func weightedReference(_ xs: [DArray]) -> Double {
            let out = reference(xs)
            var s = 0.0
            for i in 0..<out.count { s += out.data[i] * weights.data[i] }
            return s
        }
        var g = SeededGenerator(seed: seed)
        for j in checked {
            guard let grad = tensors[j].grad else {
                XCTFail("\(name): input \(j) received no gradient", file: file, line: line)
                continue
            }
            XCTAssertEqual(grad.shape, inputs[j].shape, "\(name): gradient \(j) shape", file: file, line: line)
            let n = inputs[j].count
            var coordinates = Array(0..<n)
            if n > maxCoordinates {
                coordinates.shuffle(using: &g)
                coordinates = Array(coordinates.prefix(maxCoordinates))
            }
            var numeric: [Double] = [], analytic: [Double] = []
            var xs = inputs
            let gradValues = grad.toArray()
            for i in coordinates {
                let original = xs[j].data[i]
                xs[j].data[i] = original + step
                let plus = weightedReference(xs)
                xs[j].data[i] = original - step
                let minus = weightedReference(xs)
                xs[j].data[i] = original
                numeric.append((plus - minus) / (2 * step))
                analytic.append(Double(gradValues[i]))
            }
            let gerr = relativeError(analytic, numeric)
            XCTAssertLessThanOrEqual(gerr, tolerance, "\(name): gradient of input \(j) relative error \(gerr) above \(tolerance)",
                                     file: file, line: line)
            XCTAssertTrue(numeric.contains { abs($0) > 1e-6 }, "\(name): numeric gradient of input \(j) is all zeros",
                          file: file, line: line)
        }
    }
}
