/// The element type of a tensor. Ops on the CPU backend compute in float32; the other types hold
/// data on its way in or out (bfloat16/float16 checkpoints, uint8 pixels, int64 counters, int32
/// labels, int8 quantized values) and reach an op only through an explicit `converted(to:)`.
public enum DType: String, Sendable, CaseIterable {
    case float32, bfloat16, float16, int64, int32, uint8, int8

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float32, .int32: 4
        case .bfloat16, .float16: 2
        case .int64: 8
        case .uint8, .int8: 1
        }
    }

    public var isInteger: Bool {
        switch self {
        case .int64, .int32, .uint8, .int8: true
        case .float32, .bfloat16, .float16: false
        }
    }

    /// Binds freshly allocated bytes to this type's Swift element type, so typed access through
    /// `assumingMemoryBound` is well defined (bfloat16 as its bit pattern).
    func bind(_ raw: UnsafeMutableRawPointer, count: Int) {
        switch self {
        case .float32: raw.bindMemory(to: Float.self, capacity: count)
        case .bfloat16: raw.bindMemory(to: UInt16.self, capacity: count)
        case .float16: raw.bindMemory(to: Float16.self, capacity: count)
        case .int64: raw.bindMemory(to: Int64.self, capacity: count)
        case .int32: raw.bindMemory(to: Int32.self, capacity: count)
        case .uint8: raw.bindMemory(to: UInt8.self, capacity: count)
        case .int8: raw.bindMemory(to: Int8.self, capacity: count)
        }
    }
}

/// A Swift type whose values a tensor of `dtype` holds: what the typed host accessors and
/// initialisers take. bfloat16 has no Swift type and is read through `converted(to: .float32)`.
public protocol HostScalar: Sendable {
    static var dtype: DType { get }
}

extension Float: HostScalar { public static var dtype: DType { .float32 } }
extension Float16: HostScalar { public static var dtype: DType { .float16 } }
extension Int64: HostScalar { public static var dtype: DType { .int64 } }
extension Int32: HostScalar { public static var dtype: DType { .int32 } }
extension UInt8: HostScalar { public static var dtype: DType { .uint8 } }
extension Int8: HostScalar { public static var dtype: DType { .int8 } }

/// Float to integer as oneDNN's reorders do it: rounded to nearest even, saturated, NaN to 0. oneDNN
/// saturates int32 in float32, at the largest float below 2^31 (2147483520), not at Int32.max. One
/// rule for every backend's host access, so their conversions agree.
func roundedClamped<F: BinaryFloatingPoint, I: FixedWidthInteger>(_ v: F) -> I {
    let r = v.rounded(.toNearestOrEven)
    if I.bitWidth == 32 && r >= F(Float(I.max).nextDown) { return I(F(Float(I.max).nextDown)) }
    return r.isNaN ? 0 : r >= F(I.max) ? .max : r <= F(I.min) ? .min : I(r)
}
