import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One writer per run directory: an exclusive `flock` on `RUN/.lock`, held while a trainer may
/// write there. A second `resnet train` on the same directory (a new run or a `--resume`) gets an
/// error naming the holder's PID instead of interleaving its files with the first one's. The lock
/// goes with the process, so a killed trainer never leaves the directory locked; the file itself
/// stays (deleting a lock file races with the next taker).
public final class RunLock {
    public let url: URL
    private var fd: Int32
    /// Set when the filesystem cannot lock: the run goes on unlocked, and the user is told.
    public private(set) var warning: String?

    /// Takes the lock or throws at once (never waits).
    public init(_ run: RunDirectory) throws {
        url = run.lock
        fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            throw TrainingError.checkpoint("cannot open the lock file \(url.path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            // Some network and FUSE filesystems have no locks: train there as before, and say so.
            if [ENOLCK, EOPNOTSUPP, ENOSYS].contains(code) {
                close(fd)
                fd = -1
                warning = "\(run.url.path) cannot be locked on this filesystem (\(String(cString: strerror(code)))): "
                    + "make sure no other `resnet train` writes to it"
                return
            }
            let holder = Self.holder(fd)
            close(fd)
            if code == EWOULDBLOCK {
                throw TrainingError.checkpoint("\(run.url.path) is in use by another `resnet train`"
                    + (holder.map { " (PID \($0))" } ?? "") + ": wait for it to finish or stop it; one run directory has one writer")
            }
            throw TrainingError.checkpoint("cannot lock \(url.path): \(String(cString: strerror(code)))")
        }
        let text = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit { release() }

    /// Gives the lock up (idempotent).
    public func release() {
        guard fd >= 0 else { return }
        _ = flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    public var isHeld: Bool { fd >= 0 }

    /// The PID the holder wrote into the lock file.
    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 31, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
