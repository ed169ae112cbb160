import Foundation

/// Where a buffer lives. Only the CPU exists today; the tag is the seam a CUDA backend would extend.
public enum Device: String, Sendable {
    case cpu
}

/// A reference-counted, 64-byte-aligned float buffer. Aligned so that oneDNN's AVX-512 kernels
/// and Swift's SIMD loops read whole cache lines; freed as soon as the last tensor drops it.
public final class Storage: @unchecked Sendable {
    public let count: Int
    public let device: Device
    public let pointer: UnsafeMutablePointer<Float>

    /// Bytes currently allocated by all storages: what the memory plan is measured with.
    nonisolated(unsafe) public private(set) static var liveBytes = 0
    /// The high-water mark of `liveBytes` since the last `resetPeak()`.
    nonisolated(unsafe) public private(set) static var peakBytes = 0
    private static let lock = NSLock()

    public init(count: Int, device: Device = .cpu, zeroed: Bool = false) {
        precondition(count >= 0, "negative storage size")
        self.count = count
        self.device = device
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: count) }
        Storage.account(bytes)
    }

    deinit {
        free(pointer)
        Storage.account(-max(count, 1) * MemoryLayout<Float>.stride)
    }

    private static func account(_ delta: Int) {
        lock.lock()
        liveBytes += delta
        if liveBytes > peakBytes { peakBytes = liveBytes }
        lock.unlock()
    }

    /// Starts a new peak measurement from the bytes alive now.
    public static func resetPeak() {
        lock.lock(); peakBytes = liveBytes; lock.unlock()
    }
}
