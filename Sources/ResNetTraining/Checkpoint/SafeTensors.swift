import Foundation
import ResNetData
import ResNetEngine

/// The safetensors format (Hugging Face): 8 bytes little-endian u64 `N`, `N` bytes of UTF-8 JSON
/// header (an object, space-padded), then the data buffer. Each header entry is
/// `"name": {"dtype": .., "shape": [..], "data_offsets": [begin, end]}` relative to the buffer,
/// end exclusive; `"__metadata__"` is an optional string-to-string object. Tensors tile the buffer
/// with no gaps or overlaps, row-major, little-endian.
///
/// `read` validates all of that up front and throws a `SafeTensorsError` naming the file and key;
/// `write` produces files torchvision/timm can load (keys sorted, header padded to 8 bytes).
public enum SafeTensors {
    /// The largest header a reader accepts, as in the reference implementation.
    public static let maxHeaderLength: UInt64 = 100_000_000
    /// The reserved header key that holds the string-to-string metadata.
    public static let metadataKey = "__metadata__"

    /// The element types of the format.
    public enum DType: String, CaseIterable, Sendable {
        case bool = "BOOL"
        case u8 = "U8", i8 = "I8"
        case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
        case i32 = "I32", u32 = "U32", f32 = "F32"
        case f64 = "F64", i64 = "I64", u64 = "U64"

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .bool, .u8, .i8: return 1
            case .i16, .u16, .f16, .bf16: return 2
            case .i32, .u32, .f32: return 4
            case .f64, .i64, .u64: return 8
            }
        }
    }

    /// Reads the whole file into memory and validates it. Deliberately not memory-mapped: a
    /// mapping of a file that someone truncates in place would crash with SIGBUS on access, and
    /// reading 240 MB (ResNet-152) takes well under a second.
    /// Only regular files are read (a FIFO would block, `/dev/zero` never ends), and at most
    /// `maxFileBytes`.
    /// The header is read and checked first, and the file's size against the data it declares,
    /// so a huge file that is not a safetensors file is refused without reading it.
    public static func read(_ url: URL) throws -> SafeTensorsFile {
        let path = url.path
        do {
            let (head, size) = try FileIO.readPrefix(path, count: 8)
            if head.count == 8 {
                var n: UInt64 = 0
                for i in 0..<8 { n |= UInt64(head[i]) << (8 * UInt64(i)) }
                guard n <= maxHeaderLength else { throw SafeTensorsError.headerTooLarge(file: path, length: n) }
                guard n <= UInt64(size - 8) else { throw SafeTensorsError.headerBeyondFile(file: path, length: n, fileSize: size) }
                let header = try parseHeader(Data(try FileIO.readPrefix(path, count: 8 + Int(n)).bytes.dropFirst(8)), source: path)
                let covered = header.entries.values.map(\.dataOffsets.upperBound).max() ?? 0
                let buffer = size - 8 - Int(n)
                if covered < buffer { throw SafeTensorsError.trailingBytes(file: path, covered: covered, bufferSize: buffer) }
            }
            return try parse(Data(try FileIO.read(path, maxBytes: maxFileBytes)), source: path)
        } catch let error as DataError {
            if case .notFound = error { throw SafeTensorsError.unreadable(file: path, reason: "file not found", missing: true) }
            throw SafeTensorsError.unreadable(file: path, reason: "\(error)", missing: false)
        }
    }

    /// The largest tensor file read: 16 GiB, far above wide_resnet101_2's 0.5 GB of weights.
    public static let maxFileBytes = 16 << 30

    /// Validates a safetensors image held in memory; `source` names it in errors.
    public static func parse(_ data: Data, source: String = "<memory>") throws -> SafeTensorsFile {
        // Work on a zero-based copy of the indices so slices of larger Data values behave.
        let data = data.startIndex == 0 ? data : Data(data)
        let size = data.count
        guard size >= 8 else { throw SafeTensorsError.fileTooShort(file: source, size: size) }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(data[i]) << (8 * UInt64(i)) }
        guard n <= maxHeaderLength else { throw SafeTensorsError.headerTooLarge(file: source, length: n) }
        guard n <= UInt64(size - 8) else {
            throw SafeTensorsError.headerBeyondFile(file: source, length: n, fileSize: size)
        }
        let headerLength = Int(n)
        let headerBytes = data.subdata(in: 8..<(8 + headerLength))
        let header = try parseHeader(headerBytes, source: source)
        let bufferStart = 8 + headerLength
        let bufferSize = size - bufferStart

        // The tiling check: sorted by offsets, each tensor starts where the previous one ended.
        let ordered = header.entries.sorted {
            ($0.value.dataOffsets.lowerBound, $0.value.dataOffsets.upperBound, $0.key)
                < ($1.value.dataOffsets.lowerBound, $1.value.dataOffsets.upperBound, $1.key)
        }
        var end = 0
        var previous: String?
        for (key, entry) in ordered {
            let r = entry.dataOffsets
            if r.lowerBound < end {
                throw SafeTensorsError.overlappingTensors(
                    file: source, key: key, previousKey: previous ?? "", begin: r.lowerBound, previousEnd: end)
            }
            if r.lowerBound > end {
                if r.lowerBound > bufferSize {
                    throw SafeTensorsError.truncatedData(file: source, key: key, end: r.upperBound, bufferSize: bufferSize)
                }
                throw SafeTensorsError.gapBetweenTensors(
                    file: source, key: key, previousKey: previous, begin: r.lowerBound, previousEnd: end)
            }
            if r.upperBound > bufferSize {
                throw SafeTensorsError.truncatedData(file: source, key: key, end: r.upperBound, bufferSize: bufferSize)
            }
            end = r.upperBound
            previous = key
        }
        if end != bufferSize {
            throw SafeTensorsError.trailingBytes(file: source, covered: end, bufferSize: bufferSize)
        }
        return SafeTensorsFile(
            source: source, metadata: header.metadata, entries: header.entries,
            data: data, bufferStart: bufferStart)
    }

    // MARK: Header parsing

    private static func parseHeader(
        _ bytes: Data, source: String
    ) throws -> (metadata: [String: String], entries: [String: SafeTensorsFile.Entry]) {
        guard bytes.first == UInt8(ascii: "{") else {
            throw SafeTensorsError.invalidHeader(file: source, reason: "does not start with '{'")
        }
        guard String(data: bytes, encoding: .utf8) != nil else {
            throw SafeTensorsError.invalidHeader(file: source, reason: "not valid UTF-8")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: bytes, options: [])
        } catch {
            throw SafeTensorsError.invalidHeader(file: source, reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard let dict = object as? [String: Any] else {
            throw SafeTensorsError.invalidHeader(file: source, reason: "not a JSON object")
        }

        var metadata: [String: String] = [:]
        if let raw = dict[metadataKey] {
            guard let m = raw as? [String: Any] else {
                throw SafeTensorsError.invalidMetadata(file: source, reason: "not a JSON object")
            }
            for (k, v) in m {
                guard let s = v as? String, !(v is NSNumber) else {
                    throw SafeTensorsError.invalidMetadata(file: source, reason: "value of '\(k)' is not a string")
                }
                metadata[k] = s
            }
        }

        var entries: [String: SafeTensorsFile.Entry] = [:]
        for (key, raw) in dict where key != metadataKey {
            guard let fields = raw as? [String: Any] else {
                throw SafeTensorsError.wrongFieldType(file: source, key: key, field: key, expected: "a JSON object")
            }
            guard let dtypeRaw = fields["dtype"] else {
                throw SafeTensorsError.missingField(file: source, key: key, field: "dtype")
            }
            guard let shapeRaw = fields["shape"] else {
                throw SafeTensorsError.missingField(file: source, key: key, field: "shape")
            }
            guard let offsetsRaw = fields["data_offsets"] else {
                throw SafeTensorsError.missingField(file: source, key: key, field: "data_offsets")
            }
            guard let dtypeName = dtypeRaw as? String, !(dtypeRaw is NSNumber) else {
                throw SafeTensorsError.wrongFieldType(file: source, key: key, field: "dtype", expected: "a string")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw SafeTensorsError.unknownDType(file: source, key: key, dtype: dtypeName)
            }
            guard let shape = integerArray(shapeRaw) else {
                throw SafeTensorsError.wrongFieldType(
                    file: source, key: key, field: "shape", expected: "an array of integers")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw SafeTensorsError.negativeDimension(file: source, key: key, shape: shape)
            }
            guard let offsets = integerArray(offsetsRaw), offsets.count == 2 else {
                throw SafeTensorsError.wrongFieldType(
                    file: source, key: key, field: "data_offsets", expected: "an array of two integers")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin else {
                throw SafeTensorsError.invalidOffsets(file: source, key: key, begin: begin, end: end)
            }
            let expected = byteCount(shape: shape, dtype: dtype)
            guard let expected, expected == end - begin else {
                throw SafeTensorsError.sizeMismatch(
                    file: source, key: key, expectedBytes: expected, actualBytes: end - begin)
            }
            entries[key] = SafeTensorsFile.Entry(dtype: dtype, shape: shape, dataOffsets: begin..<end)
        }
        return (metadata, entries)
    }

    /// product(shape) * dtype size, or nil on overflow.
    static func byteCount(shape: [Int], dtype: DType) -> Int? {
        var total = dtype.size
        for d in shape {
            let (p, overflow) = total.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            total = p
        }
        return total
    }

    /// A JSON array of integers (not booleans, not floats such as 2.0 or 1e3), or nil.
    private static func integerArray(_ value: Any) -> [Int]? {
        guard let items = value as? [Any] else { return nil }
        var result: [Int] = []
        result.reserveCapacity(items.count)
        for item in items {
            guard let i = jsonInteger(item) else { return nil }
            result.append(i)
        }
        return result
    }

    private static func jsonInteger(_ value: Any) -> Int? {
        guard let number = value as? NSNumber else { return nil }
        // Booleans are NSNumbers of type "c" and floats "d"/"f"; only integer types are accepted.
        let type = String(cString: number.objCType)
        guard ["s", "i", "l", "q", "S", "I", "L", "Q"].contains(type) else { return nil }
        if type == "Q" || type == "L" {
            let u = number.uint64Value
            return u <= UInt64(Int.max) ? Int(u) : nil
        }
        return number.intValue
    }
}
