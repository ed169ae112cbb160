import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and writes through POSIX calls, so a failure carries the OS's reason
/// (`strerror`) instead of Foundation's bare nil.
public enum FileIO {
    /// Largest file `read` accepts by default: far above any image or dataset file we read,
    /// and low enough that a wrong path (a disk image, /dev/zero) fails instead of exhausting memory.
    public static let maxReadBytes = 1 << 30

    /// Reads a whole regular file into memory. Anything else (a FIFO, a device such as
    /// /dev/zero, a socket, a directory) is refused before a byte is read: opening is
    /// non-blocking, so a FIFO without a writer cannot hang the caller. Files over `maxBytes`
    /// are refused too; errors name the path and the OS's reason.
    public static func read(_ path: String, maxBytes: Int = maxReadBytes) throws -> [UInt8] {
        let (fd, size) = try openRegular(path)
        defer { close(fd) }
        guard size <= maxBytes else {
            throw DataError.unreadable(path: path, reason: "is \(size) bytes, larger than the \(byteText(maxBytes)) limit for one file")
        }
        var result = [UInt8]()
        result.reserveCapacity(max(size, 0))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DataError.unreadable(path: path, reason: errnoDescription(errno))
            }
            if n == 0 { break }
            // The file may grow while it is read; the limit holds for what is actually read.
            guard result.count + n <= maxBytes else {
                throw DataError.unreadable(path: path, reason: "grew past the \(byteText(maxBytes)) limit for one file while being read")
            }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// The first `count` bytes of a regular file (fewer if it is shorter) and the file's size,
    /// for formats whose header says how much of the file must follow (a 15 GB file of zeros is
    /// refused from its first bytes, not read whole first).
    public static func readPrefix(_ path: String, count: Int) throws -> (bytes: [UInt8], fileSize: Int) {
        let (fd, size) = try openRegular(path)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: max(0, min(count, size)))
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + offset, $0.count - offset, off_t(offset)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DataError.unreadable(path: path, reason: errnoDescription(errno))
            }
            if n == 0 { break }
            offset += n
        }
        return (Array(bytes[0..<offset]), size)
    }

    /// Opens `path` for reading if it is a regular file (without blocking on a FIFO) and returns
    /// the descriptor, in blocking mode, with the file's size.
    private static func openRegular(_ path: String) throws -> (fd: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT, let target = danglingLinkTarget(path) {
                throw DataError.unreadable(path: path, reason: "is a symbolic link to \(target), which does not exist")
            }
            if code == ENOENT { throw DataError.notFound(path: path, what: "file") }
            throw DataError.unreadable(path: path, reason: errnoDescription(code))
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let code = errno
            close(fd)
            throw DataError.unreadable(path: path, reason: errnoDescription(code))
        }
        if let kind = nonRegularKind(st.st_mode) {
            close(fd)
            throw DataError.unreadable(path: path, reason: "is \(kind), not a regular file")
        }
        // Regular files ignore O_NONBLOCK; clearing it anyway keeps reads plain blocking reads.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return (fd, Int(st.st_size))
    }

    /// The absolute real path of `path` with every symbolic link resolved, also when `path`
    /// does not exist yet: its longest existing prefix is resolved with realpath and the rest
    /// (which cannot hold links) is normalised by hand. Used to compare output and input folders.
    public static func resolvedPath(_ path: String) -> String {
        var absolute = path
        if !absolute.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let cwd = getcwd(&buffer, buffer.count) != nil ? String(cString: buffer) : "/"
            absolute = cwd + "/" + path
        }
        var existing = absolute
        var rest: [String] = []
        while true {
            if let real = realpath(existing, nil) {
                defer { free(real) }
                var parts = String(cString: real).split(separator: "/").map(String.init)
                for part in rest.reversed() {
                    if part == "." || part.isEmpty { continue }
                    if part == ".." { if !parts.isEmpty { parts.removeLast() } } else { parts.append(part) }
                }
                return "/" + parts.joined(separator: "/")
            }
            guard let slash = existing.lastIndex(of: "/"), existing != "/" else { return absolute }
            rest.append(String(existing[existing.index(after: slash)...]))
            existing = slash == existing.startIndex ? "/" : String(existing[..<slash])
        }
    }

    /// Whether resolved path `inner` is `outer` or lies below it.
    public static func isSameOrInside(_ inner: String, _ outer: String) -> Bool {
        inner == outer || inner.hasPrefix(outer.hasSuffix("/") ? outer : outer + "/")
    }

    /// "a FIFO", "a character device", … for anything but a regular file (nil for one).
    static func nonRegularKind(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "a special file"
        }
    }

    /// Where `path` points when it is a symbolic link whose target does not exist, else nil.
    static func danglingLinkTarget(_ path: String) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK, stat(path, &st) != 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        return n < 0 ? "a missing target" : String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// 1 GiB, 512 MiB, … for limits in messages.
    static func byteText(_ bytes: Int) -> String {
        if bytes >= 1 << 30 && bytes % (1 << 30) == 0 { return "\(bytes >> 30) GiB" }
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        return "\(bytes)-byte"
    }

    /// Writes bytes to a file, replacing it. Errors (ENOSPC, EACCES, a missing folder, …) name
    /// the path and the OS's reason, including those only `close` reports; a failed write
    /// removes the partial file. A FIFO is refused instead of blocking until a reader appears.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, 0o644)
        if fd < 0 { throw DataError.writeFailed(path: path, reason: errnoDescription(errno)) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFIFO {
            close(fd)
            throw DataError.writeFailed(path: path, reason: "is a FIFO, not a regular file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        func fail(_ code: Int32) -> DataError {
            close(fd)
            if (st.st_mode & S_IFMT) == S_IFREG { unlink(path) }
            return DataError.writeFailed(path: path, reason: errnoDescription(code))
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail(errno)
            }
            offset += n
        }
        if close(fd) != 0 {
            let code = errno
            if (st.st_mode & S_IFMT) == S_IFREG { unlink(path) }
            throw DataError.writeFailed(path: path, reason: errnoDescription(code))
        }
    }

    /// Creates a folder and its missing parents (mkdir -p); errors name the folder that could
    /// not be made and the OS's reason, where FileManager gives only Foundation's text.
    public static func makeDirectories(_ path: String) throws {
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { return }
            throw DataError.writeFailed(path: path, reason: "exists and is not a folder")
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw DataError.writeFailed(path: path, reason: "cannot create folder: " + errnoDescription(errno))
        }
    }

    /// The names in a folder (without . and ..), with errors naming the path and the OS's reason.
    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            let code = errno
            if code == ENOENT { throw DataError.notFound(path: path, what: "folder") }
            throw DataError.unreadable(path: path, reason: "cannot list folder: " + errnoDescription(code))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw DataError.unreadable(path: path, reason: "cannot list folder: " + errnoDescription(errno)) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
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
