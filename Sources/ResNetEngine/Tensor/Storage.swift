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
    /// The raw buffer, in `layout` order (use `Tensor.pointer` for NHWC). Writing through it directly
    /// must be followed by `markModified()`.
    public private(set) var pointer: UnsafeMutablePointer<Float>
    /// How a 4-D activation's values are ordered in memory: NHWC, or oneDNN's channel-blocked
    /// nChw8c that its AVX2 kernels run fastest on. A property of the buffer, shared by every tensor
    /// viewing it; Swift-side access (`Tensor.pointer`, `array`) converts to NHWC first.
    public internal(set) var layout = MemoryLayout4D.nhwc
    /// Moves on whenever the values may have changed: what caches of derived values compare.
    public private(set) var version: UInt64 = 0
    /// The buffer's real size, which may exceed `count` floats when the pool hands out a larger one.
    private var capacityBytes: Int

    @inline(__always) public func markModified() { version &+= 1 }

    /// Takes `other`'s buffer (same size) and gives it this one: an out-of-place layout conversion
    /// becomes in place without a copy back.
    func swapBuffer(with other: Storage) {
        precondition(other.count == count, "swapping buffers of different sizes")
        swap(&pointer, &other.pointer)
        swap(&capacityBytes, &other.capacityBytes)
        swap(&pool, &other.pool)
        markModified()
    }

    /// The pool the buffer came from and goes back to: the context's that was current at allocation.
    private var pool: MemoryPool

    public init(count: Int, device: Device = .cpu, zeroed: Bool = false) {
        precondition(count >= 0, "negative storage size")
        self.count = count
        self.device = device
        pool = EngineContext.current.memory
        let (raw, bytes) = pool.allocate(bytes: max(count, 1) * MemoryLayout<Float>.stride)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        capacityBytes = bytes
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    deinit {
        pool.release(UnsafeMutableRawPointer(pointer), bytes: capacityBytes)
    }
}

/// The memory order of a 4-D activation ([N, H, W, C] logically).
public enum MemoryLayout4D: String, Sendable {
    /// Channels last, the public layout.
    case nhwc
    /// oneDNN's nChw8c: channels in blocks of 8, each block stored as its own NHW8 slab.
    case nChw8c
}
