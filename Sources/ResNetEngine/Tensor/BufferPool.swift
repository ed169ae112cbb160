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

    /// A buffer of at least `bytes`, and its real size (what `release` must be given back).
    func allocate(bytes: Int) -> (pointer: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= Self.minimumPooledBytes {
            lock.lock()
            // The same size, else the smallest idle buffer up to twice as large: activations and
            // gradients of neighbouring sizes share buffers instead of each size keeping its own,
            // which held ResNet-50 training 0.8 GB above its live peak.
            // (Lists are never left empty, so a key means a buffer.)
            let size = idle[bytes] != nil ? bytes : idle.keys.filter { $0 > bytes && $0 <= 2 * bytes }.min()
            if let size, let p = idle[size]?.popLast() {
                if idle[size]!.isEmpty { idle[size] = nil }
                idleBytes -= size
                lock.unlock()
                return (p, size)
            }
            lock.unlock()
        }
        if bytes >= Self.mappedBytes {
            guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
                fatalError("out of memory allocating \(bytes) bytes")
            }
            return (p, bytes)
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else { fatalError("out of memory allocating \(bytes) bytes") }
        return (raw, bytes)
    }

    /// Buffers from this size up are their own memory mappings, so freeing one gives its pages back
    /// at once; from malloc's heap they stayed resident as fragments (ResNet-50 training: 0.35 GB).
    static let mappedBytes = 1 << 20

    private func systemFree(_ p: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= Self.mappedBytes { munmap(p, bytes) } else { free(p) }
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
        systemFree(p, bytes: bytes)
    }

    /// Returns every idle buffer to the system.
    func drain() {
        lock.lock()
        for (bytes, list) in idle { for p in list { systemFree(p, bytes: bytes) } }
        idle.removeAll()
        idleBytes = 0
        lock.unlock()
    }
}
