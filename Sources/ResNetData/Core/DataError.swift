/// Every failure of the data pipeline, each naming the file or folder involved, so a user
/// can fix their data without reading a stack trace.
public enum DataError: Error, CustomStringConvertible, Equatable {
    /// A file or folder that should exist does not.
    case notFound(path: String, what: String)
    /// The OS refused to read a file or folder.
    case unreadable(path: String, reason: String)
    /// A decoder rejected the bytes of an image file.
    case corruptImage(path: String, format: String, reason: String)
    /// The bytes are not in a format the pipeline decodes.
    case unsupportedFormat(path: String, reason: String)
    /// A dataset folder breaks the expected layout (empty class, no classes, …).
    case badLayout(path: String, reason: String)
    /// An IDX or CIFAR-10 file has a wrong header or length.
    case badDataFile(path: String, reason: String)
    /// A built-in dataset is not installed; `hint` says how to install it.
    case datasetMissing(name: String, path: String, hint: String)
    /// A caller passed an option the pipeline cannot honour.
    case invalidArgument(String)
    /// Writing an output file failed.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notFound(path, what): return "\(what) not found: \(path)"
        case let .unreadable(path, reason): return "cannot read \(path): \(reason)"
        case let .corruptImage(path, format, reason): return "corrupt or truncated \(format) image \(path): \(reason)"
        case let .unsupportedFormat(path, reason): return "unsupported image \(path): \(reason)"
        case let .badLayout(path, reason): return "bad dataset layout at \(path): \(reason)"
        case let .badDataFile(path, reason): return "bad data file \(path): \(reason)"
        case let .datasetMissing(name, path, hint): return "\(name) not found at \(path). \(hint)"
        case let .invalidArgument(message): return "invalid argument: \(message)"
        case let .writeFailed(path, reason): return "cannot write \(path): \(reason)"
        }
    }
}
