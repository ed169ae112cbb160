import Foundation
import ResNetEngine

/// A validated safetensors file: header entries plus the raw bytes, converted to float32 on demand.
public struct SafeTensorsFile: @unchecked Sendable {
    /// One header entry.
    public struct Entry: Equatable, Sendable {
        public let dtype: SafeTensors.DType
        public let shape: [Int]
        /// Byte range within the data buffer (end exclusive).
        public let dataOffsets: Range<Int>
        public var count: Int { shape.reduce(1, *) }
    }

    /// The file path (or other name) the errors use.
    public let source: String
    public let metadata: [String: String]
    public let entries: [String: Entry]
    private let data: Data
    private let bufferStart: Int

    init(source: String, metadata: [String: String], entries: [String: Entry], data: Data, bufferStart: Int) {
        self.source = source
        self.metadata = metadata
        self.entries = entries
        self.data = data
        self.bufferStart = bufferStart
    }

    /// Tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// The raw little-endian bytes of one tensor.
    public func rawBytes(_ name: String) throws -> Data {
        guard let entry = entries[name] else { throw SafeTensorsError.noSuchTensor(file: source, key: name) }
        return data.subdata(in: (bufferStart + entry.dataOffsets.lowerBound)..<(bufferStart + entry.dataOffsets.upperBound))
    }

    /// One tensor as float32, whatever its stored dtype (integers and F64 are rounded to the
    /// nearest float; BOOL becomes 0 or 1).
    public func tensor(_ name: String) throws -> Tensor {
        /// Little-endian integers of type `T` to the nearest floats.
        func convertIntegers<T: FixedWidthInteger>(_: T.Type, _ src: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, _ count: Int) {
            for i in 0..<count { out[i] = Float(T(littleEndian: src.loadUnaligned(fromByteOffset: MemoryLayout<T>.size * i, as: T.self))) }
        }
        guard let entry = entries[name] else { throw SafeTensorsError.noSuchTensor(file: source, key: name) }
        let tensor = Tensor(empty: entry.shape)
        let count = entry.count
        let start = bufferStart + entry.dataOffsets.lowerBound
        tensor.withMutableHostValues { values in
            let out = values.baseAddress!
            data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                guard count > 0, let base = raw.baseAddress else { return }
                let src = base + start
                switch entry.dtype {
                case .f32:
                    #if _endian(little)
                    UnsafeMutableRawPointer(out).copyMemory(from: src, byteCount: count * 4)
                    #else
                    for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                    #endif
                case .f16:
                    for i in 0..<count {
                        out[i] = halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                    }
                case .bf16:
                    for i in 0..<count {
                        let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                        out[i] = Float(bitPattern: UInt32(bits) << 16)
                    }
                case .f64:
                    for i in 0..<count {
                        out[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                    }
                case .i64: convertIntegers(Int64.self, src, out, count)
                case .u64: convertIntegers(UInt64.self, src, out, count)
                case .i32: convertIntegers(Int32.self, src, out, count)
                case .u32: convertIntegers(UInt32.self, src, out, count)
                case .i16: convertIntegers(Int16.self, src, out, count)
                case .u16: convertIntegers(UInt16.self, src, out, count)
                case .i8:
                    for i in 0..<count { out[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
                case .u8:
                    for i in 0..<count { out[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
                case .bool:
                    for i in 0..<count { out[i] = src.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
                }
            }
        }
        return tensor
    }

    /// Every tensor, converted to float32.
    public func tensors() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for name in names { result[name] = try tensor(name) }
        return result
    }
}

/// IEEE 754 binary16 to binary32, exact (subnormals, infinities and NaN payloads included).
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x03FF)
    switch exponent {
    case 0:
        // Zero or subnormal: mantissa * 2^-24.
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign != 0 ? -magnitude : magnitude
    case 0x1F:
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    default:
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
