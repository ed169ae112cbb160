import XCTest
@testable import ResNetEngine

/// oneDNN must pick optimized kernels (jit:avx2 on this machine, brgconv/jit:avx512 elsewhere),
/// never its reference implementations (`ref:`), for the convolution, batch-norm and pooling
/// primitives ResNet-50 uses. Runs forward + backward of every ResNet-50 shape at batch 2.
final class ImplementationTests: XCTestCase {
    private let batch = 2

    private func convStep(_ h: Int, _ cin: Int, _ cout: Int, k: Int, stride: Int, padding: Padding,
                          residual: Bool = false, relu: Bool = false) {
        let x = Tensor.randomNormal([batch, h, h, cin], seed: 1)
        x.requiresGrad = true
        let w = Tensor.randomNormal([cout, cin, k, k], std: 0.05, seed: 2)
        w.requiresGrad = true
        let g = WindowGeometry(inputH: h, inputW: h, kernelH: k, kernelW: k, stride: (stride, stride), padding: padding)
        let r = residual ? Tensor.randomNormal([batch, g.outputH, g.outputW, cout], seed: 3) : nil
        let y = conv2d(x, w, stride: stride, padding: padding, residual: r, relu: relu)
        y.backward(seed: Tensor(repeating: 1, shape: y.shape))
        XCTAssertNotNil(x.grad); XCTAssertNotNil(w.grad)
    }

    private func batchNormStep(_ h: Int, _ c: Int, relu: Bool, training: Bool = true) {
        let x = Tensor.randomNormal([batch, h, h, c], seed: 4)
        x.requiresGrad = true
        let scale = Tensor(shape: [c], values: [Float](repeating: 1, count: c), requiresGrad: true), shift = Tensor(zeros: [c], requiresGrad: true)
        let stats = BatchNormStatistics(mean: Tensor(zeros: [c]), variance: Tensor(repeating: 1, shape: [c]))
        let y = batchNorm(x, scale: scale, shift: shift, statistics: stats, training: training, relu: relu)
        y.backward(seed: Tensor(repeating: 1, shape: y.shape))
        XCTAssertNotNil(x.grad)
    }

    func testResNet50ShapesUseNoReferenceKernels() {
        EngineContext.current.cpu.cache.removeAll()   // judge only the primitives this test creates
        // Stem: 7x7/2 on 224x224x3 (torchvision's padding 3 = TF-slim's conv2d_same), then BN+ReLU, then 3x3/2 max pool.
        convStep(224, 3, 64, k: 7, stride: 2, padding: .symmetric(3))
        convStep(224, 3, 64, k: 7, stride: 2, padding: .same)
        batchNormStep(112, 64, relu: true)
        for padding in [Padding.symmetric(1), .same] {
            let x = Tensor.randomNormal([batch, 112, 112, 64], seed: 5)
            x.requiresGrad = true
            let y = maxPool2d(x, kernel: 3, stride: 2, padding: padding)
            y.backward(seed: Tensor(repeating: 1, shape: y.shape))
        }
        // Bottleneck stages: (spatial size, width, output channels, input channels of the first unit).
        let stages = [(56, 64, 256, 64), (28, 128, 512, 256), (14, 256, 1024, 512), (7, 512, 2048, 1024)]
        for (i, (h, width, out, inFirst)) in stages.enumerated() {
            let inH = i == 0 ? h : 2 * h
            let stride = i == 0 ? 1 : 2
            // First unit: 1x1 reduce on the previous stage's output, strided 3x3 (v1.5), 1x1 expand
            // with the fused residual + ReLU, and the (strided) 1x1 projection shortcut.
            convStep(inH, inFirst, width, k: 1, stride: 1, padding: .valid)
            convStep(inH, width, width, k: 3, stride: stride, padding: .symmetric(1))
            if stride > 1 {
                convStep(inH, width, width, k: 3, stride: stride, padding: .same)   // TF 'SAME' on an even input
                convStep(inH, inFirst, width, k: 1, stride: stride, padding: .valid) // v1 (stride in the 1x1)
            }
            convStep(inH, inFirst, out, k: 1, stride: stride, padding: .valid)     // projection
            // Remaining units at this size.
            convStep(h, out, width, k: 1, stride: 1, padding: .valid)
            convStep(h, width, width, k: 3, stride: 1, padding: .symmetric(1))
            convStep(h, width, out, k: 1, stride: 1, padding: .valid, residual: true, relu: true)
            convStep(h, width, out, k: 1, stride: 1, padding: .valid)
            // BN with and without the fused ReLU, in training, and frozen.
            batchNormStep(h, width, relu: true)
            batchNormStep(h, out, relu: false)
            batchNormStep(h, width, relu: true, training: false)
            if stride > 1 { batchNormStep(inH, width, relu: true) }
        }
        // Head: global average pooling of [2, 7, 7, 2048].
        let x = Tensor.randomNormal([batch, 7, 7, 2048], seed: 6)
        x.requiresGrad = true
        globalAvgPool(x).backward(seed: Tensor(repeating: 1, shape: [batch, 2048]))

        let all = OneDNN.implementations
        let hot = all.filter { [.convolution, .batchNorm, .pooling].contains($0.key.op.kind) }
        XCTAssertGreaterThan(hot.count, 40, "expected the ResNet-50 primitives in the cache")
        let ops: [PrimitiveKey.Op] = [.convolution, .convolutionBackwardData, .convolutionBackwardWeights, .batchNorm, .batchNormBackward,
                                      .pooling, .poolingBackward]
        for op in ops {
            XCTAssertTrue(hot.contains { $0.key.op == op }, "no \(op) primitive was created")
        }
        print("implementations:", Set(hot.map { $0.key.op.rawValue + " " + $0.implementation }).sorted())
        let reference = hot.filter { $0.implementation.hasPrefix("ref") }
        XCTAssertTrue(reference.isEmpty, "reference kernels on ResNet paths:\n" +
                      reference.map { "\($0.key) -> \($0.implementation)" }.joined(separator: "\n"))
    }
}
