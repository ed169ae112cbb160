import XCTest
@testable import ResNetEngine

/// Inference 3x3 stride-1 convolutions run by Winograd F(2x2, 3x3) on blocked activations (nChw8c
/// or nChw16c, one SIMD vector per channel block): the result must be the direct convolution's, at
/// odd sizes (partial edge tiles), with bias, residual and ReLU, and the backend must pick the path
/// only where it applies.
final class WinogradTests: XCTestCase {
    /// float32 transforms add a few roundings per value: 1e-4 of the largest magnitude, as for oneDNN.
    static let tolerance = 1e-4

    private struct Case { var n: Int, h: Int, w: Int, c: Int, k: Int, bias: Bool, residual: Bool, relu: Bool }

    /// The kernel alone, including shapes below the size where the backend would pick it.
    func testWinogradMatchesReferenceAtOddSizes() {
        let cases = [
            Case(n: 1, h: 5, w: 7, c: 8, k: 16, bias: false, residual: false, relu: false),
            Case(n: 2, h: 6, w: 3, c: 16, k: 8, bias: true, residual: false, relu: true),
            Case(n: 3, h: 7, w: 7, c: 24, k: 16, bias: true, residual: true, relu: true),
            Case(n: 1, h: 1, w: 2, c: 8, k: 8, bias: false, residual: true, relu: false),
            Case(n: 2, h: 4, w: 4, c: 8, k: 24, bias: true, residual: true, relu: false),
            Case(n: 1, h: 5, w: 3, c: 16, k: 32, bias: true, residual: true, relu: true),
            Case(n: 2, h: 3, w: 6, c: 48, k: 16, bias: false, residual: false, relu: true),
            Case(n: 1, h: 9, w: 1, c: 32, k: 48, bias: true, residual: false, relu: false),
        ]
        for layout in [MemoryLayout4D.nChw8c, .nChw16c] {
          for (i, t) in cases.enumerated() where t.c % layout.channelBlock! == 0 && t.k % layout.channelBlock! == 0 {
            let g = WindowGeometry(inputH: t.h, inputW: t.w, kernelH: 3, kernelW: 3, stride: (1, 1), padding: .symmetric(1))
            let x = randomDArray([t.n, t.h, t.w, t.c], seed: UInt64(10 + i), std: 1.2, mean: 0.2)
            let w = randomDArray([t.k, t.c, 3, 3], seed: UInt64(20 + i), std: 0.3)
            let b = t.bias ? randomDArray([t.k], seed: UInt64(30 + i)) : nil
            let r = t.residual ? randomDArray([t.n, t.h, t.w, t.k], seed: UInt64(40 + i)) : nil
            let xt = x.tensor(), rt = r?.tensor()
            convertLayout(xt, to: layout)
            if let rt { convertLayout(rt, to: layout) }
            let y = Winograd.convolution(xt, transformed: Winograd.transformWeights(w.tensor()), outputChannels: t.k,
                                         bias: b?.tensor(), residual: rt, relu: t.relu, profiler: EngineContext.current.profiler)
            XCTAssertEqual(y.storage.layout, layout, "case \(i): the output stays in the input's layout")
            assertClose(y, refConv2d(x, w, bias: b, RefWindow(g), residual: r, relu: t.relu), tolerance: Self.tolerance, "Winograd \(layout) case \(i)")
          }
        }
    }

    /// Through the backend: inference on a big enough blocked input takes the Winograd path (seen in
    /// the profiler) and matches the reference; training, stride 2 and NHWC-sized channels do not take it.
    func testBackendPicksWinogradForInferenceOnly() {
        let g = WindowGeometry(inputH: 19, inputW: 15, kernelH: 3, kernelW: 3, stride: (1, 1), padding: .symmetric(1))
        let shape = [4, 19, 15, 16]
        XCTAssertTrue(Winograd.applies(shape, [24, 16, 3, 3], g, layout: .nChw8c))
        XCTAssertTrue(Winograd.applies(shape, [32, 16, 3, 3], g, layout: .nChw16c))
        XCTAssertFalse(Winograd.applies(shape, [24, 16, 3, 3], g, layout: .nChw16c), "24 outputs are not whole 16-channel blocks")
        XCTAssertFalse(Winograd.applies(shape, [24, 16, 3, 3], g, layout: .nhwc))
        XCTAssertFalse(Winograd.applies([1, 5, 5, 16], [24, 16, 3, 3],
                                        WindowGeometry(inputH: 5, inputW: 5, kernelH: 3, kernelW: 3, stride: (1, 1), padding: .symmetric(1)),
                                        layout: .nChw8c), "too few tiles")
        XCTAssertFalse(Winograd.applies(shape, [24, 16, 3, 3],
                                        WindowGeometry(inputH: 19, inputW: 15, kernelH: 3, kernelW: 3, stride: (2, 2), padding: .symmetric(1)),
                                        layout: .nChw8c), "stride 2")
        XCTAssertFalse(Winograd.applies(shape, [24, 16, 3, 3],
                                        WindowGeometry(inputH: 19, inputW: 15, kernelH: 3, kernelW: 3, stride: (1, 1), dilation: (2, 2), padding: .symmetric(2)),
                                        layout: .nChw8c), "dilation 2")
        let x = randomDArray(shape, seed: 51), w = randomDArray([24, 16, 3, 3], seed: 52, std: 0.3), b = randomDArray([24], seed: 53)
        let expected = refConv2d(x, w, bias: b, RefWindow(g), relu: true)
        for training in [false, true] {
            let context = EngineContext.current
            context.profiler.start()
            let y = Backend.current.convolution(x.tensor(), weight: w.tensor(), bias: b.tensor(), geometry: g, residual: nil, relu: true, training: training)
            let ops = context.profiler.primitives.compactMap(\.primitive?.op)
            context.profiler.stop()
            XCTAssertEqual(ops.contains(.winograd), context.options.winograd && !training, "training \(training): \(ops)")
            assertClose(y, expected, tolerance: Self.tolerance, "backend training \(training)")
        }
    }
}
