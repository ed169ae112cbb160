import XCTest
@testable import ResNetEngine

/// Host access reads without side effects: a blocked activation read through `toArray()`,
/// `withHostValues` or `description` keeps its storage's buffer, layout and version, and the values
/// come back in NHWC order. Writes go through `withMutableHostValues`, one version bump each.
final class TensorHostAccessTests: XCTestCase {
    private let x = randomDArray([2, 5, 6, 8], seed: 31)
    private let w = randomDArray([16, 8, 3, 3], seed: 32, std: 0.3)
    private let g = WindowGeometry(inputH: 5, inputW: 6, kernelH: 3, kernelW: 3, stride: (1, 1), padding: .symmetric(1))

    /// A convolution's output with 16 channels: blocked (nChw8c) in the default layout. Under
    /// SWIFTRESNET_LAYOUT=nhwc it is blocked here by hand, so the test always reads a blocked buffer.
    private func blockedActivation() -> Tensor {
        let y = GradMode.withoutGradient { conv2d(x.tensor(), w.tensor(), padding: .symmetric(1)) }
        if y.storage.layout != .nChw8c { convertLayout(y, to: .nChw8c) }
        return y
    }

    /// The expected NHWC values, computed in float64 by the reference convolution (no oneDNN).
    private var expected: [Double] { refConv2d(x, w, RefWindow(g)).data }

    private func bytes(_ s: Storage) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: s.raw, count: s.byteCount))
    }

    func testReadingABlockedActivationChangesNothing() {
        let y = blockedActivation()
        let (version, buffer, raw) = (y.storage.version, y.storage.raw, bytes(y.storage))
        func assertUntouched(_ what: String) {
            XCTAssertEqual(y.storage.version, version, "\(what) bumped the version")
            XCTAssertEqual(y.storage.layout, .nChw8c, "\(what) changed the layout")
            XCTAssertEqual(y.storage.raw, buffer, "\(what) swapped the buffer")
            XCTAssertEqual(bytes(y.storage), raw, "\(what) changed the bytes")
        }
        let values = y.toArray()
        assertUntouched("toArray()")
        assertClose(values.map(Double.init), expected, tolerance: 1e-5, "toArray() in NHWC order")
        XCTAssertNotEqual(values, bytes(y.storage).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) },
                          "blocked and NHWC orders must differ, or the test proves nothing")

        let read = y.withHostValues { Array($0) }
        assertUntouched("withHostValues")
        XCTAssertEqual(read, values)
        XCTAssertEqual(y.toArray(as: Float.self), values)
        assertUntouched("toArray(as:)")

        let text = y.description
        assertUntouched("description")
        let shown = values.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        XCTAssertEqual(text, "Tensor([2, 5, 6, 16]: [\(shown), …])")

        XCTAssertEqual(Backend.current.sum(y), Float(expected.reduce(0, +)), accuracy: 1e-3)
        assertUntouched("a Swift kernel's read (sum)")
        XCTAssertEqual(y.converted(to: .bfloat16).dtype, .bfloat16)
        assertUntouched("converted(to:)")
    }

    /// Plain float32 storage is read in place: the hot paths (optimizer, loss) add no copy.
    func testPlainFloat32IsReadAndWrittenInPlace() {
        let t = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let version = t.storage.version
        XCTAssertEqual(t.withHostValues { UnsafeMutableRawPointer(mutating: $0.baseAddress!) }, t.storage.raw)
        XCTAssertEqual(t.withHostValues { $0.count }, 6)
        XCTAssertEqual(t.storage.version, version)
        XCTAssertEqual(t.withMutableHostValues { UnsafeMutableRawPointer($0.baseAddress!) }, t.storage.raw)
    }

    func testWithMutableHostValuesConvertsOnceAndBumpsTheVersionOnce() {
        let y = blockedActivation()
        let version = y.storage.version
        y.withMutableHostValues { v in
            XCTAssertEqual(v.count, y.count)
            v[0] += 1000
            v[v.count - 1] = -7
        }
        XCTAssertEqual(y.storage.version, version + 1, "one bump for the conversion and the write together")
        XCTAssertEqual(y.storage.layout, .nhwc, "written in place in the public order")
        var want = expected
        want[0] += 1000
        want[want.count - 1] = -7
        assertClose(y.toArray().map(Double.init), want, tolerance: 1e-5, "the write and the untouched values")

        let plain = Tensor(shape: [3], values: [1, 2, 3])
        let before = plain.storage.version
        plain.withMutableHostValues { $0[1] = 5 }
        XCTAssertEqual(plain.storage.version, before + 1)
        plain.assign(Tensor(shape: [3], values: [7, 8, 9]))
        XCTAssertEqual(plain.storage.version, before + 2, "assign is one write")
        XCTAssertEqual(plain.toArray(), [7, 8, 9])
        _ = plain.toArray(); _ = plain.description; _ = plain.withHostValues { $0[0] }
        XCTAssertEqual(plain.storage.version, before + 2, "reads do not count")
    }

    func testScalarReadsWithoutMutating() {
        let t = Tensor(scalar: 2.5)
        let version = t.storage.version
        XCTAssertEqual(t.scalar, 2.5)
        XCTAssertEqual(t.storage.version, version)
        XCTAssertEqual(Tensor(scalar: 2.5).converted(to: .bfloat16).scalar, 2.5, "scalar of any dtype, as a Float")
    }
}
