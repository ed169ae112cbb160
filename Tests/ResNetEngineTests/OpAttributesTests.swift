import XCTest
@testable import ResNetEngine

/// The attribute structs that replace the convolution's and batch norm's flags: each post-op list
/// the CPU backend fuses gives the unfused arithmetic, [add, relu] relu(conv + residual).
final class OpAttributesTests: XCTestCase {
    let g = WindowGeometry(inputH: 5, inputW: 4, kernelH: 3, kernelW: 3, stride: (1, 1), padding: .same)

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

    /// The CPU backend builds oneDNN's post-ops from the list, in order, and each list gets a
    /// primitive of its own: every supported list equals the unfused arithmetic, on oneDNN's kernels
    /// (training) and on Winograd's (inference, a 3x3 stride-1 shape of 256 tiles).
    func testEachSupportedPostOpListEqualsTheUnfusedArithmeticWithAPrimitiveOfItsOwn() {
        let g = WindowGeometry(inputH: 16, inputW: 16, kernelH: 3, kernelW: 3, stride: (1, 1), padding: .symmetric(1))
        let x = randomTensor([4, 16, 16, 16], seed: 11), w = randomTensor([16, 16, 3, 3], seed: 12, std: 0.2), b = randomTensor([16], seed: 13)
        let r = randomTensor([4, 16, 16, 16], seed: 14)
        let backend = EngineContext.current.cpu
        backend.cache.removeAll()
        for propagation in [Propagation.training, .inference] {
            let plain = backend.convolution(x, weight: w, bias: b, attributes: ConvolutionAttributes(geometry: g, propagation: propagation)).toArray()
            let added = zip(plain, r.toArray()).map { $0 + $1 }
            let lists: [(name: String, ops: [PostOp], expected: [Float])] = [
                ("[]", [], plain), ("[add]", [.add(r)], added), ("[relu]", [.relu], plain.map { max($0, 0) }),
                ("[add, relu]", [.add(r), .relu], added.map { max($0, 0) }),
            ]
            for (name, ops, expected) in lists {
                let y = backend.convolution(x, weight: w, bias: b, attributes: ConvolutionAttributes(geometry: g, postOps: ops, propagation: propagation))
                assertClose(y.toArray().map(Double.init), expected.map(Double.init), tolerance: 1e-4, "\(name), \(propagation)")
            }
        }
        let training = backend.cache.implementations.map { $0.key }.filter { $0.op == .convolution && $0.propagation == .training }
        XCTAssertEqual(Set(training.map(\.attributes)).count, 4, "one primitive per post-op list: \(training)")
    }

    /// The autodiff ops pass the backend's optional gradients on as they are: a bias or scale
    /// gradient comes back exactly when there is a bias or scale, for each statistics kind.
    func testOptionalGradientsComeBackExactlyForOptionalInputs() {
        let backend = Backend.current
        let x = randomTensor([2, 5, 4, 3], seed: 21), dy = randomTensor([2, 5, 4, 6], seed: 22)
        for withBias in [false, true] {
            let (_, db) = backend.convolutionBackwardWeights(dy, input: x, geometry: g, weightShape: [6, 3, 3, 3], withBias: withBias)
            XCTAssertEqual(db != nil, withBias)
        }
        let bx = randomTensor([2, 3, 3, 4], seed: 23), bdy = randomTensor([2, 3, 3, 4], seed: 24)
        for scale in [nil, randomTensor([4], seed: 25)] {
            let f = backend.batchNormTraining(bx, scale: scale, shift: Tensor(zeros: [4]), attributes: BatchNormAttributes(epsilon: 1e-3))
            for statistics in [NormalizationStatistics.batch, .running] {
                let (_, dscale, _) = backend.batchNormBackward(bdy, input: bx, scale: scale, mean: f.mean, variance: f.variance,
                                                               attributes: BatchNormAttributes(epsilon: 1e-3), workspace: nil, statistics: statistics)
                XCTAssertEqual(dscale != nil, scale != nil, "\(statistics)")
            }
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
