import XCTest
@testable import ResNetEngine

/// ReLU, add, scale, multiply, reshape/flatten, dropout and the option-A shortcut: the backend
/// kernels against the reference, and every op's gradient against finite differences.
final class ElementwiseTests: XCTestCase {
    func testBackendKernelsMatchReference() {
        let a = randomDArray([2, 3, 5, 3], seed: 1), b = randomDArray([2, 3, 5, 3], seed: 2)
        let be = Backend.current
        assertClose(be.relu(a.tensor()), refRelu(a), tolerance: 0, "relu")
        let dy = randomDArray(a.shape, seed: 3)
        let y = refRelu(a)
        let masked = DArray(shape: a.shape, data: zip(dy.data, y.data).map { $1 > 0 ? $0 : 0 })
        assertClose(be.reluBackward(dy.tensor(), output: y.tensor()), masked, tolerance: 0, "relu backward")
        assertClose(be.add(a.tensor(), b.tensor()), refAdd(a, b), tolerance: 1e-7, "add")
        assertClose(be.addReLU(a.tensor(), b.tensor()), refRelu(refAdd(a, b)), tolerance: 1e-7, "addReLU")
        let t = a.tensor()
        be.addInPlace(t, b.tensor())
        assertClose(t, refAdd(a, b), tolerance: 1e-7, "addInPlace")
        assertClose(be.scale(a.tensor(), by: -2.5), DArray(shape: a.shape, data: a.data.map { $0 * -2.5 }), tolerance: 1e-7, "scale")
        assertClose(be.multiply(a.tensor(), b.tensor()), DArray(shape: a.shape, data: zip(a.data, b.data).map { $0 * $1 }),
                    tolerance: 1e-7, "multiply")
        XCTAssertEqual(Double(be.sum(a.tensor())), a.data.reduce(0, +), accuracy: 1e-4)
        let x = randomDArray([2, 7, 9, 3], seed: 4)
        assertClose(be.padChannelsSubsample(x.tensor(), channels: 5, stride: 2), refPadChannelsSubsample(x, channels: 5, stride: 2),
                    tolerance: 0, "shortcut A")
    }

    func testReluGradient() {
        GradientCheck.check("relu", inputs: [randomDArray([2, 3, 5, 3], seed: 5)], engine: { relu($0[0]) }, reference: { refRelu($0[0]) })
    }

    func testAddGradient() {
        GradientCheck.check("add", inputs: [randomDArray([2, 3, 4, 3], seed: 6), randomDArray([2, 3, 4, 3], seed: 7)],
                            engine: { $0[0] + $0[1] }, reference: { refAdd($0[0], $0[1]) })
    }

    func testAddReLUGradient() {
        GradientCheck.check("addReLU", inputs: [randomDArray([2, 3, 4, 3], seed: 16), randomDArray([2, 3, 4, 3], seed: 17)],
                            engine: { addReLU($0[0], $0[1]) }, reference: { refRelu(refAdd($0[0], $0[1])) })
    }

    func testScaleGradient() {
        GradientCheck.check("scale", inputs: [randomDArray([3, 7], seed: 8)],
                            engine: { $0[0] * Float(-0.75) }, reference: { DArray(shape: $0[0].shape, data: $0[0].data.map { $0 * -0.75 }) })
    }

    func testMultiplyGradient() {
        GradientCheck.check("multiply", inputs: [randomDArray([3, 7], seed: 9), randomDArray([3, 7], seed: 10)],
                            engine: { multiply($0[0], $0[1]) },
                            reference: { DArray(shape: $0[0].shape, data: zip($0[0].data, $0[1].data).map { $0 * $1 }) })
    }

    func testReshapeAndFlattenGradients() {
        let x = randomDArray([2, 3, 4, 5], seed: 11)
        // Reshape then scale, so the gradient passes through a non-trivial op on the new shape.
        GradientCheck.check("reshape", inputs: [x],
                            engine: { reshape($0[0], [6, 20]) * Float(3) },
                            reference: { DArray(shape: [6, 20], data: $0[0].data.map { $0 * 3 }) })
        GradientCheck.check("flatten + linear", inputs: [x, randomDArray([4, 60], seed: 12, std: 0.2)],
                            engine: { linear(flatten($0[0]), $0[1]) },
                            reference: { refLinear(DArray(shape: [2, 60], data: $0[0].data), $0[1]) })
        XCTAssertEqual(flatten(x.tensor()).shape, [2, 60])
    }

    func testShortcutAGradient() {
        GradientCheck.check("padChannelsSubsample", inputs: [randomDArray([2, 7, 9, 3], seed: 13)],
                            engine: { padChannelsSubsample($0[0], channels: 6, stride: 2) },
                            reference: { refPadChannelsSubsample($0[0], channels: 6, stride: 2) })
    }

    func testDropout() {
        let x = randomDArray([4, 250], seed: 14).tensor(requiresGrad: true)
        let rate: Float = 0.3
        let y = dropout(x, rate: rate, training: true, seed: 7)
        // Every element is dropped (0) or kept and scaled by 1 / (1 - rate); the kept fraction is about 1 - rate.
        var mask = [Float](repeating: 0, count: x.count), kept = 0
        let (ya, xa) = (y.toArray(), x.toArray())
        for i in 0..<x.count {
            if ya[i] == 0 { continue }
            XCTAssertEqual(ya[i], xa[i] / (1 - rate), accuracy: 1e-5)
            mask[i] = 1 / (1 - rate); kept += 1
        }
        XCTAssertEqual(Double(kept) / Double(x.count), 0.7, accuracy: 0.05)
        // The gradient is the same mask.
        let r = randomDArray(x.shape, seed: 15)
        sum(multiply(y, r.tensor())).backward()
        let ga = x.grad!.toArray()
        for i in 0..<x.count { XCTAssertEqual(ga[i], mask[i] * Float(r.data[i]), accuracy: 1e-5) }
        // Reproducible from the seed, and the identity in inference.
        XCTAssertEqual(dropout(x, rate: rate, training: true, seed: 7).toArray(), y.toArray())
        XCTAssertNotEqual(dropout(x, rate: rate, training: true, seed: 8).toArray(), y.toArray())
        XCTAssertEqual(dropout(x, rate: rate, training: false, seed: 7).toArray(), x.toArray())
    }
}
