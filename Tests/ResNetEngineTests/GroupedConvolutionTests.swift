import XCTest
@testable import ResNetEngine

/// Grouped convolutions (ResNeXt's cardinality, Xie et al. 2017): forward, backward-data and
/// backward-weights against the float64 reference, which sums each output over its own group's
/// channels only. Ignoring groups cannot pass: the weights' dim 1 would not match the input.
final class GroupedConvolutionTests: XCTestCase {
    struct Case {
        var n = 2, h = 7, w = 5, c = 6, o = 9, groups = 3
        var k = 3, stride = 1, dilation = 1
        var padding: Padding = .symmetric(1)
        var bias = true
    }

    static let cases: [Case] = [
        Case(stride: 1),
        Case(stride: 2, bias: false),
        Case(k: 1, stride: 2, padding: .valid),
        Case(h: 6, w: 9, c: 4, o: 6, groups: 2, stride: 2, dilation: 2, padding: .explicit(top: 2, bottom: 1, left: 0, right: 2)),
        // Channels in whole blocks of 8 (nChw8c when oneDNN has a non-reference kernel for the shape).
        Case(h: 7, w: 5, c: 16, o: 32, groups: 2),
        Case(n: 3, h: 9, w: 6, c: 32, o: 32, groups: 8, stride: 2),     // 4 channels per group: ResNeXt's 32x4d
        Case(h: 7, w: 5, c: 8, o: 8, groups: 8),                          // depthwise
        // Inference at a size where a 3x3/1 convolution with groups 1 would take the Winograd path.
        Case(n: 4, h: 16, w: 16, c: 16, o: 16, groups: 2, bias: false),
    ]

    func testBackendGroupedConvolutionMatchesReference() {
        for (i, t) in Self.cases.enumerated() {
            let x = randomDArray([t.n, t.h, t.w, t.c], seed: UInt64(500 + i))
            let w = randomDArray([t.o, t.c / t.groups, t.k, t.k], seed: UInt64(600 + i), std: 0.3)
            let b = t.bias ? randomDArray([t.o], seed: UInt64(700 + i)) : nil
            let g = WindowGeometry(inputH: t.h, inputW: t.w, kernelH: t.k, kernelW: t.k, stride: (t.stride, t.stride),
                                   dilation: (t.dilation, t.dilation), padding: t.padding)
            let rg = RefWindow(g)
            let what = "case \(i) \(t.c)->\(t.o) groups \(t.groups) \(g)"
            for training in [false, true] {
                for blockedInput in [false, true] where !blockedInput || t.c % 8 == 0 {
                    let xt = x.tensor()
                    if blockedInput { convertLayout(xt, to: .nChw8c) }
                    let y = Backend.current.convolution(xt, weight: w.tensor(), bias: b?.tensor(), geometry: g,
                                                        residual: nil, relu: false, training: training)
                    assertClose(y, refConv2d(x, w, bias: b, rg, groups: t.groups), tolerance: ConvolutionTests.tolerance,
                                "forward \(what) training \(training) blocked input \(blockedInput)")
                }
            }
            let dy = randomDArray([t.n, rg.outputH(t.h), rg.outputW(t.w), t.o], seed: UInt64(800 + i))
            let dx = Backend.current.convolutionBackwardData(dy.tensor(), weight: w.tensor(), geometry: g, inputShape: x.shape)
            assertClose(dx, refConvBackwardData(dy, w, rg, groups: t.groups, inputShape: x.shape),
                        tolerance: ConvolutionTests.tolerance, "backward data \(what)")
            let (dw, db) = Backend.current.convolutionBackwardWeights(dy.tensor(), input: x.tensor(), geometry: g,
                                                                      weightShape: w.shape, withBias: t.bias)
            let ref = refConvBackwardWeights(dy, x, rg, groups: t.groups, weightShape: w.shape)
            assertClose(dw, ref.weight, tolerance: ConvolutionTests.tolerance, "backward weights \(what)")
            if let db { assertClose(db, ref.bias, tolerance: ConvolutionTests.tolerance, "backward bias \(what)") }
        }
    }

    /// The reference itself: a grouped convolution is the groups' plain convolutions side by side.
    func testReferenceIsPerGroupConvolution() {
        let x = randomDArray([2, 5, 4, 6], seed: 1), w = randomDArray([9, 2, 3, 3], seed: 2)
        let rg = RefWindow(kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pb: 1, pl: 1, pr: 1)
        let y = refConv2d(x, w, rg, groups: 3)
        for gi in 0..<3 {
            var xData: [Double] = [], picked: [Double] = []
            for p in 0..<(x.count / 6) {
                for c in 0..<2 { let i: Int = p * 6 + gi * 2 + c; xData.append(x.data[i]) }
            }
            for p in 0..<(y.count / 9) {
                for c in 0..<3 { let i: Int = p * 9 + gi * 3 + c; picked.append(y.data[i]) }
            }
            let start: Int = gi * 54
            let wg = DArray(shape: [3, 2, 3, 3], data: Array(w.data[start..<(start + 54)]))
            let yg = refConv2d(DArray(shape: [2, 5, 4, 2], data: xData), wg, rg)
            XCTAssertEqual(picked, yg.data, "group \(gi)")
        }
    }

    func testGroupedConv2dGradients() {
        let x = randomDArray([2, 7, 5, 6], seed: 10)
        let w = randomDArray([9, 2, 3, 3], seed: 11, std: 0.3)
        let b = randomDArray([9], seed: 12)
        for stride in [1, 2] {
            let rg = RefWindow(kh: 3, kw: 3, sh: stride, sw: stride, pt: 1, pb: 1, pl: 1, pr: 1)
            GradientCheck.check("grouped conv2d stride \(stride)", inputs: [x, w, b],
                                engine: { conv2d($0[0], $0[1], bias: $0[2], stride: stride, padding: .symmetric(1), groups: 3) },
                                reference: { refConv2d($0[0], $0[1], bias: $0[2], rg, groups: 3) })
        }
    }

    /// The training link with its batch norms recomputed in backward, grouped: bn2(conv(relu(bn1(x)))).
    func testGroupedFusedConvGradients() {
        let x = randomDArray([2, 5, 7, 6], seed: 21, std: 1.5, mean: 0.3)
        let w = randomDArray([9, 2, 3, 3], seed: 22, std: 0.4)
        let (scale1, shift1) = (randomDArray([6], seed: 23), randomDArray([6], seed: 24))
        let (scale2, shift2) = (randomDArray([9], seed: 25), randomDArray([9], seed: 26))
        let rg = RefWindow(kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pb: 1, pl: 1, pr: 1)
        let e = Double(BatchNormTests.epsilon)
        GradientCheck.check("grouped fusedConv2d pre+post", inputs: [x, w, shift1, scale1, shift2, scale2],
                            engine: { fusedConv2d($0[0], pre: BatchNormTests.norm(scale: $0[3], shift: $0[2]),
                                                  conv: ConvolutionParameters(weight: $0[1], stride: 2, padding: .symmetric(1), groups: 3),
                                                  post: BatchNormTests.norm(scale: $0[5], shift: $0[4])) },
                            reference: {
                                let y = refBatchNormTraining($0[0], scale: $0[3].data, shift: $0[2].data, epsilon: e, relu: true).y
                                return refBatchNormTraining(refConv2d(y, $0[1], rg, groups: 3), scale: $0[5].data, shift: $0[4].data, epsilon: e).y
                            })
    }

    /// The grouped 3x3 convolutions of ResNeXt-50 32x4d and 101 64x4d (4 channels per group) and
    /// 32x8d (8), forward and backward: prints the implementations oneDNN picks for them.
    func testResNeXtGroupedShapesImplementations() {
        EngineContext.current.cpu.cache.removeAll()
        for (h, width, groups) in [(14, 128, 32), (14, 256, 32), (7, 256, 64)] {
            let x = Tensor.randomNormal([2, h, h, width], seed: 1)
            x.requiresGrad = true
            let w = Tensor.randomNormal([width, width / groups, 3, 3], std: 0.05, seed: 2)
            w.requiresGrad = true
            let y = conv2d(x, w, padding: .symmetric(1), groups: groups)
            y.backward(seed: Tensor(repeating: 1, shape: y.shape))
            XCTAssertNotNil(x.grad); XCTAssertNotNil(w.grad)
            _ = GradMode.withoutGradient { conv2d(x.detached(), w.detached(), padding: .symmetric(1), groups: groups) }
        }
        let convs = OneDNN.implementations.filter { $0.key.op.kind == .convolution }
        XCTAssertFalse(convs.isEmpty)
        print("grouped implementations:", convs.map { "\($0.key) -> \($0.implementation)" }.sorted().joined(separator: "\n"))
    }
}
