#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and writes through POSIX calls, so a failure carries the OS's reason
/// (`strerror`) instead of Foundation's bare nil.
public enum FileIO {
    /// Reads a whole file into memory.
    public static func read(_ path: String) throws -> [UInt8] { try read(path, maxBytes: Int.max) }

    /// Reads a whole regular file of at most `maxBytes` (TEMPORARY: merged with the data-side checks).
    public static func read(_ path: String, maxBytes: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        if fd < 0 {
            let code = errno
            if code == ENOENT { throw DataError.notFound(path: path, what: "file") }
            throw DataError.unreadable(path: path, reason: errnoDescription(code))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DataError.unreadable(path: path, reason: errnoDescription(errno)) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw DataError.unreadable(path: path, reason: "is a directory") }
        if (st.st_mode & S_IFMT) != S_IFREG { throw DataError.unreadable(path: path, reason: "not a regular file") }
        if Int(st.st_size) > maxBytes { throw DataError.unreadable(path: path, reason: "\(st.st_size) bytes, above the limit of \(maxBytes)") }
        var result = [UInt8]()
        result.reserveCapacity(max(Int(st.st_size), 0))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DataError.unreadable(path: path, reason: errnoDescription(errno))
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// Writes bytes to a file, replacing it.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 { throw DataError.writeFailed(path: path, reason: errnoDescription(errno)) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DataError.writeFailed(path: path, reason: errnoDescription(errno))
            }
            offset += n
        }
    }

    /// Whether the current user may read `path` (false for a missing file too).
    public static func isReadable(_ path: String) -> Bool { access(path, R_OK) == 0 }

    /// Why `path` cannot be read (the OS's words), or nil when it can.
    public static func unreadableReason(_ path: String) -> String? {
        access(path, R_OK) == 0 ? nil : errnoDescription(errno)
    }

    static func errnoDescription(_ code: Int32) -> String { String(cString: strerror(code)) }
}
