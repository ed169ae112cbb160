import Foundation

/// A context's tensor memory: keeps freed large buffers for reuse by later tensors, and counts the
/// bytes its storages hold. Without reuse every activation of a training step is a fresh `mmap`:
/// the kernel zero-fills it page by page on first touch, which made a 100 MB batch-norm or add cost
/// ~100 ms instead of ~5. ResNet steps repeat the same shapes, so after the first step nearly every
/// allocation is served from idle memory. Locked: a storage may be freed on any thread.
public final class MemoryPool: @unchecked Sendable {
    /// Buffers below this go straight to malloc, which already recycles small blocks well.
    static let minimumPooledBytes = 1 << 16
    /// At most this much is held idle (`EngineOptions.poolLimitBytes`).
    public let limit: Int

    /// Idle heap buffers (below `mappedBytes`) by size.
    private var idle: [Int: [UnsafeMutableRawPointer]] = [:]
    private var idleHeapBytes = 0
    /// Idle mapped memory (from `mappedBytes` up), split and merged as requests need.
    private var idleMapped = IdleRanges(minimumPiece: MemoryPool.mappedBytes)
    private let lock = NSLock()
    private var liveBytesUnlocked = 0
    private var peakBytesUnlocked = 0
    private var mappedTotalUnlocked = 0

    public init(limit: Int) { self.limit = limit }

    deinit { releaseIdle() }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock(); defer { lock.unlock() }
        return body()
    }

    /// Bytes currently allocated by this pool's storages: what the memory plan is measured with.
    public var liveBytes: Int { locked { liveBytesUnlocked } }
    /// The high-water mark of `liveBytes` since the last `resetPeak()`.
    public var peakBytes: Int { locked { peakBytesUnlocked } }
    /// Starts a new peak measurement from the bytes alive now.
    public func resetPeak() { locked { peakBytesUnlocked = liveBytesUnlocked } }

    /// Bytes of freed buffers kept for reuse (resident, but not in any tensor).
    public var idleBytes: Int { locked { idleHeapBytes + idleMapped.bytes } }
    /// Bytes mapped fresh so far: after the first step of a steady loop this should stop growing,
    /// since every fresh page costs a zero-filling page fault on first touch.
    public var freshlyMappedBytes: Int { locked { mappedTotalUnlocked } }

    private func account(_ delta: Int) {
        liveBytesUnlocked += delta
        if liveBytesUnlocked > peakBytesUnlocked { peakBytesUnlocked = liveBytesUnlocked }
    }
    /// Buffers from this size up are their own memory mappings, so freeing one gives its pages back
    /// at once; from malloc's heap they stayed resident as fragments (ResNet-50 training: 0.35 GB).
    static let mappedBytes = 1 << 20
    static let pageBytes = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// A buffer of at least `bytes`, and its real size (what `release` must be given back).
    func allocate(bytes: Int) -> (pointer: UnsafeMutableRawPointer, bytes: Int) {
        let buffer = take(bytes: bytes)
        locked { account(buffer.bytes) }
        return buffer
    }

    /// Gives back a buffer `allocate` handed out, with the size it reported.
    func release(_ p: UnsafeMutableRawPointer, bytes: Int) {
        locked { account(-bytes) }
        keepOrFree(p, bytes: bytes)
    }

    private func take(bytes: Int) -> (pointer: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= Self.mappedBytes {
            let size = (bytes + Self.pageBytes - 1) / Self.pageBytes * Self.pageBytes
            lock.lock()
            let reused = idleMapped.take(size)
            if reused == nil { mappedTotalUnlocked += size }
            lock.unlock()
            if let reused { return reused }
            guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
                fatalError("out of memory allocating \(size) bytes")
            }
            return (p, size)
        }
        if bytes >= Self.minimumPooledBytes {
            lock.lock()
            // The same size, else the smallest idle buffer up to twice as large, so neighbouring
            // sizes share buffers. (Lists are never left empty, so a key means a buffer.)
            let size = idle[bytes] != nil ? bytes : idle.keys.filter { $0 > bytes && $0 <= 2 * bytes }.min()
            if let size, let p = idle[size]?.popLast() {
                if idle[size]!.isEmpty { idle[size] = nil }
                idleHeapBytes -= size
                lock.unlock()
                return (p, size)
            }
            lock.unlock()
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else { fatalError("out of memory allocating \(bytes) bytes") }
        return (raw, bytes)
    }

    private func systemFree(_ p: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= Self.mappedBytes { munmap(p, bytes) } else { free(p) }
    }

    private func keepOrFree(_ p: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= Self.minimumPooledBytes {
            lock.lock()
            if idleHeapBytes + idleMapped.bytes + bytes <= limit {
                if bytes >= Self.mappedBytes {
                    idleMapped.give(p, bytes: bytes)
                } else {
                    idle[bytes, default: []].append(p)
                    idleHeapBytes += bytes
                }
                lock.unlock()
                return
            }
            lock.unlock()
        }
        systemFree(p, bytes: bytes)
    }

    /// Returns every idle buffer to the system (after training, before a long idle phase).
    public func releaseIdle() {
        lock.lock()
        for (bytes, list) in idle { for p in list { systemFree(p, bytes: bytes) } }
        idle.removeAll()
        idleHeapBytes = 0
        for range in idleMapped.removeAll() { systemFree(range.pointer, bytes: range.bytes) }
        lock.unlock()
    }
}
