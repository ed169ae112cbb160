import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call while writing a file atomically. The message names the file being
/// written (the target, not only its temporary) and the OS's reason, e.g. ENOSPC.
public struct AtomicFileError: Error, Equatable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let code: Int32
    /// The file the write was for; nil when `path` is the file itself.
    public var target: String? = nil

    public var description: String {
        let what = target.map { "\($0) (temporary \(URL(fileURLWithPath: path).lastPathComponent))" } ?? path
        return "cannot save \(what): \(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
    }
}

/// Replaces a file all at once: the bytes go to `.NAME.tmp-PID` in the same directory, which is
/// fsynced and then renamed over the target (rename(2) is atomic within a filesystem), after which
/// the directory is fsynced so the rename itself survives a crash. Readers see the old file or the
/// new one, never a mixture. If anything fails, or the body throws, the temporary file is removed
/// and the old target is untouched.
///
/// A temporary file left behind by a killed process is harmless: one with this process's PID is
/// replaced, and ones whose PID is no longer running are deleted before the next write.
/// Writes of the same target from several threads of one process are serialised.
public enum AtomicFile {
    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { handle in try handle.write(contentsOf: data) }
    }

    /// Where `write(to:_:)`'s body writes: POSIX `write(2)` on the temporary file, so a failure
    /// (ENOSPC, EIO) is an `AtomicFileError` naming the target, not Foundation's generic text.
    public struct Output {
        let fd: Int32
        let temporary: String
        let target: String

        public func write(contentsOf data: Data) throws {
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                var offset = 0
                while offset < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw AtomicFileError(operation: "write", path: temporary, code: errno, target: target)
                    }
                    offset += n
                }
            }
        }
    }

    /// Calls `body` with the temporary file's output, then commits it to `url`.
    public static func write(to url: URL, _ body: (Output) throws -> Void) throws {
        let target = url.standardizedFileURL
        let directory = target.deletingLastPathComponent().path
        let temporary = temporaryURL(for: target).path

        inFlight.claim(temporary)
        defer { inFlight.release(temporary) }

        removeStaleTemporaries(for: target)
        // A leftover with our own PID (a previous failed run that reused the PID, or a crash
        // mid-write in this process) is ours to replace.
        if unlink(temporary) != 0 && errno != ENOENT {
            throw AtomicFileError(operation: "unlink", path: temporary, code: errno, target: target.path)
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw AtomicFileError(operation: "open", path: temporary, code: errno, target: target.path) }

        var open = true
        do {
            try body(Output(fd: fd, temporary: temporary, target: target.path))
            guard fsync(fd) == 0 else { throw AtomicFileError(operation: "fsync", path: temporary, code: errno, target: target.path) }
            open = false
            guard close(fd) == 0 else { throw AtomicFileError(operation: "close", path: temporary, code: errno, target: target.path) }
            guard rename(temporary, target.path) == 0 else {
                throw AtomicFileError(operation: "rename", path: temporary, code: errno, target: target.path)
            }
        } catch {
            if open { _ = close(fd) }
            _ = unlink(temporary)
            throw error
        }
        try syncDirectory(directory)
    }

    /// `.NAME.tmp-PID` next to `url`.
    public static func temporaryURL(for url: URL, pid: Int32 = getpid()) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(pid)")
    }

    /// Deletes `.NAME.tmp-PID` files next to `url` whose process no longer exists.
    static func removeStaleTemporaries(for url: URL) {
        let directory = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent).tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                _ = unlink(directory.appendingPathComponent(name).path)
            }
        }
    }

    /// fsync on the directory makes the rename durable. Filesystems that cannot sync a directory
    /// (EINVAL, ENOTSUP) are tolerated: the data itself has already been synced.
    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw AtomicFileError(operation: "open directory", path: path, code: errno) }
        defer { _ = close(fd) }
        if fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP {
            throw AtomicFileError(operation: "fsync directory", path: path, code: errno)
        }
    }

    /// Temporary paths being written by this process: a second writer of the same target waits.
    private static let inFlight = InFlightPaths()

    private final class InFlightPaths: @unchecked Sendable {
        private let condition = NSCondition()
        private var paths: Set<String> = []

        func claim(_ path: String) {
            condition.lock()
            while paths.contains(path) { condition.wait() }
            paths.insert(path)
            condition.unlock()
        }

        func release(_ path: String) {
            condition.lock()
            paths.remove(path)
            condition.broadcast()
            condition.unlock()
        }
    }
}
