import Foundation

/// Why a safetensors file was rejected (or could not be written). Every case names the file, and
/// the tensor key where one is involved, so a bad checkpoint can be found without a debugger.
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
    /// Fewer than the 8 bytes of the header-length prefix.
    case fileTooShort(file: String, size: Int)
    /// The header length exceeds the 100,000,000-byte limit.
    case headerTooLarge(file: String, length: UInt64)
    /// The header length points past the end of the file.
    case headerBeyondFile(file: String, length: UInt64, fileSize: Int)
    /// The header is not UTF-8, does not start with `{`, is not JSON, or is not a JSON object.
    case invalidHeader(file: String, reason: String)
    /// `__metadata__` is not an object of string to string.
    case invalidMetadata(file: String, reason: String)
    /// An entry lacks `dtype`, `shape` or `data_offsets`.
    case missingField(file: String, key: String, field: String)
    /// An entry's field has the wrong JSON type (e.g. a shape that is not an array of integers).
    case wrongFieldType(file: String, key: String, field: String, expected: String)
    /// A dtype name outside the safetensors set.
    case unknownDType(file: String, key: String, dtype: String)
    /// A negative dimension in a shape.
    case negativeDimension(file: String, key: String, shape: [Int])
    /// Offsets that are negative, or `end < begin`.
    case invalidOffsets(file: String, key: String, begin: Int, end: Int)
    /// `end - begin` differs from product(shape) * dtype size (or the product overflows).
    case sizeMismatch(file: String, key: String, expectedBytes: Int?, actualBytes: Int)
    /// Two tensors share bytes.
    case overlappingTensors(file: String, key: String, previousKey: String, begin: Int, previousEnd: Int)
    /// Unused bytes between two tensors (or before the first one).
    case gapBetweenTensors(file: String, key: String, previousKey: String?, begin: Int, previousEnd: Int)
    /// The data buffer is longer than the tensors cover.
    case trailingBytes(file: String, covered: Int, bufferSize: Int)
    /// A tensor reaches past the end of the file.
    case truncatedData(file: String, key: String, end: Int, bufferSize: Int)
    /// `tensor(_:)` was asked for a name that is not in the file.
    case noSuchTensor(file: String, key: String)
    /// Writing: a value that cannot be stored as the requested dtype (e.g. NaN as I64).
    case unrepresentableValue(file: String, key: String, value: Float, dtype: String)
    /// Writing: a tensor named `__metadata__`.
    case reservedName(file: String, key: String)
    /// The file could not be read: missing, not a regular file, too large, or the OS refused.
    case unreadable(file: String, reason: String, missing: Bool)

    public var file: String {
        switch self {
        case .fileTooShort(let f, _), .headerTooLarge(let f, _), .headerBeyondFile(let f, _, _),
             .invalidHeader(let f, _), .invalidMetadata(let f, _), .missingField(let f, _, _),
             .wrongFieldType(let f, _, _, _), .unknownDType(let f, _, _), .negativeDimension(let f, _, _),
             .invalidOffsets(let f, _, _, _), .sizeMismatch(let f, _, _, _),
             .overlappingTensors(let f, _, _, _, _), .gapBetweenTensors(let f, _, _, _, _),
             .trailingBytes(let f, _, _), .truncatedData(let f, _, _, _), .noSuchTensor(let f, _),
             .unrepresentableValue(let f, _, _, _), .reservedName(let f, _), .unreadable(let f, _, _):
            return f
        }
    }

    public var description: String {
        let p = "safetensors \(file):"
        switch self {
        case .fileTooShort(_, let size):
            return "\(p) file is \(size) bytes, shorter than the 8-byte header length"
        case .headerTooLarge(_, let length):
            return "\(p) header length \(length) exceeds the limit of \(SafeTensors.maxHeaderLength) bytes"
        case .headerBeyondFile(_, let length, let size):
            return "\(p) header length \(length) reaches past the end of the \(size)-byte file"
        case .invalidHeader(_, let reason):
            return "\(p) invalid header: \(reason)"
        case .invalidMetadata(_, let reason):
            return "\(p) invalid __metadata__: \(reason)"
        case .missingField(_, let key, let field):
            return "\(p) tensor '\(key)' has no '\(field)'"
        case .wrongFieldType(_, let key, let field, let expected):
            return "\(p) tensor '\(key)': '\(field)' must be \(expected)"
        case .unknownDType(_, let key, let dtype):
            return "\(p) tensor '\(key)' has unknown dtype '\(dtype)'"
        case .negativeDimension(_, let key, let shape):
            return "\(p) tensor '\(key)' has a negative dimension in shape \(shape)"
        case .invalidOffsets(_, let key, let begin, let end):
            return "\(p) tensor '\(key)' has invalid data_offsets [\(begin), \(end)]"
        case .sizeMismatch(_, let key, let expected, let actual):
            let e = expected.map { "\($0)" } ?? "an overflowing number of"
            return "\(p) tensor '\(key)' spans \(actual) bytes but its shape and dtype need \(e) bytes"
        case .overlappingTensors(_, let key, let prev, let begin, let prevEnd):
            return "\(p) tensor '\(key)' begins at \(begin), overlapping '\(prev)' which ends at \(prevEnd)"
        case .gapBetweenTensors(_, let key, let prev, let begin, let prevEnd):
            let after = prev.map { "after '\($0)' which ends at \(prevEnd)" } ?? "at the start of the buffer"
            return "\(p) tensor '\(key)' begins at \(begin), leaving a gap \(after)"
        case .trailingBytes(_, let covered, let size):
            return "\(p) tensors cover \(covered) bytes but the data buffer has \(size) (trailing bytes)"
        case .truncatedData(_, let key, let end, let size):
            return "\(p) tensor '\(key)' ends at \(end) but the data buffer has only \(size) bytes (truncated file)"
        case .noSuchTensor(_, let key):
            return "\(p) no tensor named '\(key)'"
        case .unrepresentableValue(_, let key, let value, let dtype):
            return "\(p) tensor '\(key)': value \(value) cannot be written as \(dtype)"
        case .reservedName(_, let key):
            return "\(p) '\(key)' is reserved and cannot name a tensor"
        case .unreadable(_, let reason, _):
            return "\(p) \(reason)"
        }
    }
}
