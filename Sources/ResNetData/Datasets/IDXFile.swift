/// The IDX format of MNIST and Fashion-MNIST: big-endian magic (two zero bytes, a type
/// code, a dimension count), big-endian u32 sizes, then the data. Files may be gzip'd.
public struct IDXFile: Sendable {
    /// Dimension sizes, e.g. [60000, 28, 28].
    public var dimensions: [Int]
    /// The unsigned-byte payload, `dimensions.reduce(1, *)` bytes.
    public var data: [UInt8]

    /// Reads and validates an unsigned-byte IDX file with `expectedDimensions` dimensions
    /// (3 for images, magic 0x00000803; 1 for labels, 0x00000801).
    public static func read(path: String, expectedDimensions: Int) throws -> IDXFile {
        var bytes = try FileIO.read(path)
        if Gzip.isGzip(bytes) { bytes = try Gzip.decompress(bytes, source: path, maxOutput: 4 + 4 * expectedDimensions + maxDataBytes) }
        return try parse(bytes, expectedDimensions: expectedDimensions, source: path)
    }

    /// Largest payload accepted (2 GiB, 40x Fashion-MNIST's training set): bounds what a
    /// decompression bomb or a wrong header can make us allocate.
    public static let maxDataBytes = 1 << 31

    /// Parses IDX bytes (already decompressed); `source` names the file in errors.
    public static func parse(_ bytes: [UInt8], expectedDimensions: Int, source: String) throws -> IDXFile {
        func fail(_ reason: String) -> DataError { .badDataFile(path: source, reason: reason) }
        let expectedMagic = 0x0000_0800 | UInt32(expectedDimensions)
        guard bytes.count >= 4 else { throw fail("file is \(bytes.count) bytes, too short for an IDX header") }
        let magic = readU32(bytes, 0)
        guard magic == expectedMagic else {
            throw fail("wrong IDX magic 0x\(hex(magic)), expected 0x\(hex(expectedMagic)) (unsigned bytes, \(expectedDimensions) dimension\(expectedDimensions == 1 ? "" : "s"))")
        }
        let headerSize = 4 + 4 * expectedDimensions
        guard bytes.count >= headerSize else { throw fail("file is \(bytes.count) bytes, shorter than its \(headerSize)-byte header") }
        var dimensions: [Int] = []
        var total = 1
        let names = expectedDimensions == 3 ? ["item count", "rows", "columns"] : ["item count"]
        for d in 0..<expectedDimensions {
            let size = Int(readU32(bytes, 4 + 4 * d))
            let field = "dimension \(d) (\(d < names.count ? names[d] : "size"))"
            guard size > 0 || d == 0 else { throw fail("\(field) has size 0") }
            let (product, overflow) = total.multipliedReportingOverflow(by: size)
            guard !overflow, product <= maxDataBytes else {
                throw fail("\(field) is \(size): dimensions \(dimensions + [size]) need more than the \(FileIO.byteText(maxDataBytes)) limit of data")
            }
            total = product
            dimensions.append(size)
        }
        let payload = bytes.count - headerSize
        guard payload >= total else {
            throw fail("file is truncated: dimensions \(dimensions) need \(total) data bytes, found \(payload)")
        }
        guard payload == total else { throw fail("file has \(payload - total) unexpected bytes after the data \(dimensions)") }
        return IDXFile(dimensions: dimensions, data: Array(bytes[headerSize...]))
    }

    /// Encodes an unsigned-byte IDX file (for tests and tools).
    public static func encode(dimensions: [Int], data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
        for d in dimensions { out += [UInt8(truncatingIfNeeded: d >> 24), UInt8(truncatingIfNeeded: d >> 16), UInt8(truncatingIfNeeded: d >> 8), UInt8(truncatingIfNeeded: d)] }
        return out + data
    }

    static func readU32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 8 - s.count)) + s
    }
}
