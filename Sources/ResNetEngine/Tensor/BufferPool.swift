import Foundation

/// Keeps freed large buffers for reuse by the next tensor of the same size. Without it every
/// activation of a training step is a fresh `mmap`: the kernel zero-fills it page by page on first
/// touch, which made a 100 MB batch-norm or add cost ~100 ms instead of ~5. ResNet steps repeat the
/// same shapes, so exact-size reuse serves nearly every allocation after the first step.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()

    /// Buffers below this go straight to malloc, which already recycles small blocks well.
    static let minimumPooledBytes = 1 << 16
    /// At most this much is held idle (`SWIFTRESNET_POOL_MB` overrides; 0 turns pooling off).
    let limit: Int

    private var idle: [Int: [UnsafeMutableRawPointer]] = [:]
    private(set) var idleBytes = 0
    private let lock = NSLock()

    private init() {
        if let text = ProcessInfo.processInfo.environment["SWIFTRESNET_POOL_MB"], let mb = Int(text) {
            limit = max(0, mb) << 20
        } else {
            limit = Int(min(ProcessInfo.processInfo.physicalMemory / 4, 8 << 30))
        }
    }

    func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        if bytes >= Self.minimumPooledBytes {
            lock.lock()
            if let p = idle[bytes]?.popLast() {
                idleBytes -= bytes
                lock.unlock()
                return p
            }
            lock.unlock()
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else { fatalError("out of memory allocating \(bytes) bytes") }
        return raw
    }

    func release(_ p: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= Self.minimumPooledBytes {
            lock.lock()
            if idleBytes + bytes <= limit {
                idle[bytes, default: []].append(p)
                idleBytes += bytes
                lock.unlock()
                return
            }
            lock.unlock()
        }
        free(p)
    }

    /// Returns every idle buffer to the system.
    func drain() {
        lock.lock()
        for (_, list) in idle { for p in list { free(p) } }
        idle.removeAll()
        idleBytes = 0
        lock.unlock()
    }
}
