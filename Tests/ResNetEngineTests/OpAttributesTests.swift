import XCTest
@testable import ResNetEngine

/// The attribute structs that replace the convolution's and batch norm's flags: the post-op list
/// reads back as what oneDNN fuses, and a fused [add, relu] convolution gives relu(conv + residual).
final class OpAttributesTests: XCTestCase {
    let g = WindowGeometry(inputH: 5, inputW: 4, kernelH: 3, kernelW: 3, stride: (1, 1), padding: .same)

    func testPostOpsReadBackAsResidualAndReLU() {
        let r = Tensor(zeros: [1])
        let none = ConvolutionAttributes(geometry: g).residualAndReLU
        XCTAssertTrue(none.residual == nil && !none.relu)
        let relu = ConvolutionAttributes(geometry: g, postOps: [.relu]).residualAndReLU
        XCTAssertTrue(relu.residual == nil && relu.relu)
        let add = ConvolutionAttributes(geometry: g, postOps: [.add(r)]).residualAndReLU
        XCTAssertTrue(add.residual === r && !add.relu)
        let both = ConvolutionAttributes(geometry: g, postOps: [.add(r), .relu]).residualAndReLU
        XCTAssertTrue(both.residual === r && both.relu)
    }

    func testFusedAddAndReLUPostOpsEqualTheUnfusedArithmetic() {
        let x = randomTensor([2, 5, 4, 3], seed: 1), w = randomTensor([6, 3, 3, 3], seed: 2), b = randomTensor([6], seed: 3)
        let r = randomTensor([2, 5, 4, 6], seed: 4)
        let backend = Backend.current
        for propagation in [Propagation.training, .inference] {
            let plain = backend.convolution(x, weight: w, bias: b, attributes: ConvolutionAttributes(geometry: g, propagation: propagation))
            let fused = backend.convolution(x, weight: w, bias: b,
                                            attributes: ConvolutionAttributes(geometry: g, postOps: [.add(r), .relu], propagation: propagation))
            let expected = zip(plain.toArray(), r.toArray()).map { Double(max($0 + $1, 0)) }
            assertClose(fused.toArray().map(Double.init), expected, tolerance: 1e-5, "conv + residual + relu, \(propagation)")
            XCTAssertTrue(fused.toArray().contains(0) && fused.toArray().contains { $0 > 0 })
        }
    }

    func testBatchNormAttributesMatchTheFlagForm() {
        let x = randomTensor([2, 3, 3, 4], seed: 5), scale = randomTensor([4], seed: 6), shift = randomTensor([4], seed: 7)
        let backend = Backend.current
        let a = backend.batchNormTraining(x, scale: scale, shift: shift, attributes: BatchNormAttributes(epsilon: 1e-3, fusedReLU: true))
        let f = backend.batchNormTraining(x, scale: scale, shift: shift, epsilon: 1e-3, relu: true)
        XCTAssertEqual(a.y.toArray(), f.y.toArray())
        XCTAssertTrue(a.y.toArray().allSatisfy { $0 >= 0 })
        let dy = randomTensor([2, 3, 3, 4], seed: 8)
        let running = backend.batchNormBackward(dy, input: x, scale: scale, mean: a.mean, variance: a.variance,
                                                attributes: BatchNormAttributes(epsilon: 1e-3), workspace: nil, statistics: .running)
        let batch = backend.batchNormBackward(dy, input: x, scale: scale, mean: a.mean, variance: a.variance,
                                              attributes: BatchNormAttributes(epsilon: 1e-3), workspace: nil, statistics: .batch)
        // Fixed statistics: dx = dy * scale / sqrt(var + eps) per channel; batch statistics add terms.
        let s = scale.toArray(), v = a.variance.toArray(), d = dy.toArray()
        let expected = d.indices.map { Double(d[$0] * s[$0 % 4] / (v[$0 % 4] + 1e-3).squareRoot()) }
        assertClose(running.dx.toArray().map(Double.init), expected, tolerance: 1e-5, "frozen batch-norm backward")
        XCTAssertGreaterThan(relativeError(batch.dx.toArray().map(Double.init), expected), 1e-2)
    }
}
