import XCTest
@testable import ResNetEngine

/// Every dtype: its size, values that survive a round trip through it, and the rounding and
/// saturation of conversions (oneDNN's reorders; int64 on the host with the same rules).
final class DTypeTests: XCTestCase {
    private func through(_ dtype: DType, _ values: [Float]) -> [Float] {
        let t = Tensor(shape: [values.count], values: values).converted(to: dtype)
        XCTAssertEqual(t.dtype, dtype)
        return t.converted(to: .float32).toArray()
    }

    func testSizes() {
        let sizes: [DType: Int] = [.float32: 4, .bfloat16: 2, .float16: 2, .int64: 8, .int32: 4, .uint8: 1, .int8: 1]
        XCTAssertEqual(Set(sizes.keys), Set(DType.allCases))
        for (dtype, size) in sizes {
            XCTAssertEqual(dtype.byteSize, size, "\(dtype)")
            XCTAssertEqual(Storage(count: 5, dtype: dtype).byteCount, 5 * size, "\(dtype)")
            XCTAssertEqual(Tensor(zeros: [5], dtype: dtype).toArray(), [0, 0, 0, 0, 0], "\(dtype) zeros")
        }
    }

    /// Values each type holds exactly come back unchanged.
    func testRoundTrips() {
        let exact: [DType: [Float]] = [
            .float32: [0, -1.5, 3.0e-7, 1e30],
            .bfloat16: [0, 1, 3, -0.5, 256, 1.0078125, -3.3895314e38],
            .float16: [0, 1, 3, -0.5, 65504, 0x1p-14, 0x1p-24],
            .int64: [0, 3, -7, 0x1p40, -0x1p62],
            .int32: [0, 3, -7, 16_777_216, -2_147_483_648],
            .uint8: [0, 1, 3, 128, 255],
            .int8: [-128, -1, 0, 3, 127],
        ]
        for (dtype, values) in exact { XCTAssertEqual(through(dtype, values), values, "\(dtype)") }
    }

    func testTypedInitialisersAndReads() {
        let labels = Tensor(shape: [3], values: [Int32(4), -1, 70000])
        XCTAssertEqual(labels.dtype, .int32)
        XCTAssertEqual(labels.toArray(as: Int32.self), [4, -1, 70000])
        XCTAssertEqual(labels.toArray(), [4, -1, 70000], "read as Floats")
        let counter = Tensor(shape: [1], values: [Int64(1) << 40])
        XCTAssertEqual(counter.converted(to: .int32).toArray(as: Int32.self), [Int32.max], "int64 clamps exactly")
        XCTAssertEqual(counter.converted(to: .float32).toArray(), [0x1p40])
        XCTAssertEqual(Tensor(shape: [2], values: [Int32(-5), 300]).converted(to: .int64).toArray(as: Int64.self), [-5, 300])
        XCTAssertEqual(Tensor(shape: [2], values: [Int64(-5), 300]).converted(to: .uint8).toArray(as: UInt8.self), [0, 255])
        let pixels = Tensor(shape: [2, 2], values: [UInt8(0), 17, 200, 255])
        XCTAssertEqual(pixels.converted(to: .float32).toArray(), [0, 17, 200, 255])
        XCTAssertEqual(Tensor(shape: [2], values: [Int8(-128), 5]).withHostValues(as: Int8.self) { Array($0) }, [-128, 5])
        let half = Tensor(shape: [2], values: [Float16(0.5), 2])
        XCTAssertEqual(half.dtype, .float16)
        XCTAssertEqual(half.toArray(), [0.5, 2])
        XCTAssertEqual(half.copy().toArray(as: Float16.self), [0.5, 2], "copy keeps the dtype")
        XCTAssertEqual(half.description, "Tensor([2], float16: [0.5, 2])")
        pixels.withMutableHostValues(as: UInt8.self) { $0[1] = 18 }
        XCTAssertEqual(pixels.toArray(as: UInt8.self), [0, 18, 200, 255])
    }

    /// bfloat16 keeps 8 significant bits: halfway cases go to the even neighbour.
    func testBFloat16RoundsToNearestEven() {
        XCTAssertEqual(through(.bfloat16, [1.00390625, 1.01171875, 3.0, 1.005, -1.00390625, 0.1]),
                       [1.0, 1.015625, 3.0, 1.0078125, -1.0, 0.10009765625])
        let bits = Tensor(shape: [1], values: [Float(1.00390625)]).converted(to: .bfloat16)
        XCTAssertEqual(bits.storage.raw.load(as: UInt16.self), 0x3F80, "stored as the top half of the float32")
    }

    func testFloat16RoundsToNearestEven() {
        XCTAssertEqual(through(.float16, [0.1, 1 + 0x1p-11, 1 + 3 * 0x1p-11, 65519, 65520]),
                       [0.0999755859375, 1, 1 + 0x1p-9, 65504, .infinity])
    }

    /// Float to integer: nearest even, then saturation to the type's range.
    func testIntegersRoundToNearestEvenAndSaturate() {
        XCTAssertEqual(through(.int8, [2.5, 3.5, -2.5, -0.4, 127.4, 300, -300]), [2, 4, -2, 0, 127, 127, -128])
        XCTAssertEqual(through(.uint8, [0.5, 1.5, -5, 254.6, 300]), [0, 2, 0, 255, 255])
        // oneDNN saturates float32 to int32 at the largest float below 2^31.
        XCTAssertEqual(through(.int32, [2.5, -3.5, 1e6 + 0.5, -1e9, 3e9, -3e9]), [2, -4, 1_000_000, -1e9, 2_147_483_520, -2_147_483_648])
        XCTAssertEqual(through(.int64, [2.5, 3.5, -2.5, 1e30, -1e30]), [2, 4, -2, 0x1p63, -0x1p63])
        XCTAssertEqual(Tensor(shape: [2], values: [Float(1e30), -1e30]).converted(to: .int64).toArray(as: Int64.self),
                       [.max, .min])
    }

    /// A blocked activation converts straight to another dtype in NHWC order.
    func testConvertingABlockedActivation() {
        let x = Tensor.randomNormal([1, 3, 4, 16], seed: 7)
        let blocked = x.copy()
        convertLayout(blocked, to: .nChw8c)
        let bf16 = blocked.converted(to: .bfloat16)
        XCTAssertEqual(blocked.storage.layout, .nChw8c, "the source is left as it is")
        XCTAssertEqual(bf16.converted(to: .float32).toArray(), x.converted(to: .bfloat16).converted(to: .float32).toArray())
        XCTAssertEqual(blocked.converted(to: .int64).toArray(), x.converted(to: .int64).toArray())
    }
}
