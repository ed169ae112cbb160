import XCTest
@testable import ResNetEngine

/// Gradients keyed by input role: an absent optional input cannot shift the others' gradients,
/// and a fused link with every optional input in an unusual combination still gets each one right.
final class InputGradientsTests: XCTestCase {
    private enum Role: Hashable { case first, missing, last }

    func testAbsentInputGetsNoEdgeAndTheOthersKeepTheirGradients() {
        let a = Tensor(shape: [2], values: [1, 2], requiresGrad: true), c = Tensor(shape: [2], values: [3, 4], requiresGrad: true)
        let y = record("probe", roles: [(.first, a), (.missing, nil), (.last, c)], Tensor(scalar: 0)) { _ -> InputGradients<Role> in
            var g = InputGradients<Role>()
            g[.last] = Tensor(shape: [2], values: [7, 8])
            g[.first] = Tensor(shape: [2], values: [5, 6])
            return g
        }
        y.backward()
        XCTAssertEqual(a.grad?.toArray(), [5, 6])
        XCTAssertEqual(c.grad?.toArray(), [7, 8])
    }

    func testRoleWithoutGradientLeavesItsInputAlone() {
        let a = Tensor(shape: [1], values: [1], requiresGrad: true), c = Tensor(shape: [1], values: [3], requiresGrad: true)
        let y = record("probe", roles: [(.first, a), (.last, c)], Tensor(scalar: 0)) { _ -> InputGradients<Role> in
            var g = InputGradients<Role>()
            g[.last] = Tensor(shape: [1], values: [9])
            return g
        }
        y.backward()
        XCTAssertNil(a.grad)
        XCTAssertEqual(c.grad?.toArray(), [9])
    }

    /// pre without scale, a biased convolution and post with scale: the combination where a
    /// positional list would put post's shift where pre's scale belongs if either side miscounted. (A bias
    /// before a batch norm has no gradient, so it is left out of the check, as in BatchNormTests.)
    func testFusedConvWithScalelessPreBiasAndScaledPostGradients() {
        let x = randomDArray([2, 4, 3, 3], seed: 81, std: 1.5, mean: 0.2)
        let w = randomDArray([4, 3, 1, 1], seed: 82, std: 0.5), bias = randomDArray([4], seed: 83)
        let shift1 = randomDArray([3], seed: 84), (scale2, shift2) = (randomDArray([4], seed: 85), randomDArray([4], seed: 86))
        let rg = RefWindow(WindowGeometry(inputH: 4, inputW: 3, kernelH: 1, kernelW: 1, stride: (1, 1), padding: .valid))
        GradientCheck.check("fusedConv2d pre(no scale)+bias+post", inputs: [x, w, bias, shift1, shift2, scale2], wrt: [0, 1, 3, 4, 5],
                            engine: { fusedConv2d($0[0], pre: BatchNormTests.norm(scale: nil, shift: $0[3]),
                                                  conv: ConvolutionParameters(weight: $0[1], bias: $0[2]),
                                                  post: BatchNormTests.norm(scale: $0[5], shift: $0[4])) },
                            reference: {
                                let e = Double(BatchNormTests.epsilon)
                                let y = refBatchNormTraining($0[0], scale: nil, shift: $0[3].data, epsilon: e, relu: true).y
                                return refBatchNormTraining(refConv2d(y, $0[1], bias: $0[2], rg), scale: $0[5].data, shift: $0[4].data, epsilon: e).y
                            })
    }
}
