import Foundation

/// Where a buffer lives, and so which backend's kernels and host access read it: a tensor made in
/// a context is on that context's backend's device. A CUDA backend would add its tag here.
public enum Device: String, Sendable {
    /// Host memory in the tensor's dtype, read by the oneDNN backend.
    case cpu
    /// Host memory holding every element as a Double, whatever the dtype: the float64 oracle
    /// backend (`ReferenceBackend`), whose buffers no other backend can read.
    case reference

    /// Bytes one element of `dtype` takes in this device's buffers.
    func elementBytes(_ dtype: DType) -> Int {
        switch self {
        case .cpu: dtype.byteSize
        case .reference: MemoryLayout<Double>.size
        }
    }
}

/// A reference-counted, 64-byte-aligned buffer of `count` elements of `dtype`. Aligned so that
/// oneDNN's AVX-512 kernels and Swift's SIMD loops read whole cache lines; freed as soon as the last
/// tensor drops it. Its memory order is the backend's business: Swift code outside the backend
/// reads and writes values only through `Tensor`'s host accessors.
public final class Storage: @unchecked Sendable {
    /// Elements (not bytes).
    public let count: Int
    public let dtype: DType
    public let device: Device
    /// The raw buffer, in `layout` order. Backend code that writes through it directly must follow
    /// with `markModified()`.
    private(set) var raw: UnsafeMutableRawPointer
    /// The buffer as float32 values, for CPU kernels (ops take float32 tensors only).
    var pointer: UnsafeMutablePointer<Float> { raw.assumingMemoryBound(to: Float.self) }
    /// How a 4-D activation's values are ordered in memory: NHWC, the channel-blocked layout oneDNN's
    /// kernels run fastest on for this CPU (nChw8c, nChw16c), or the reference backend's NCHW. Private
    /// to the backend; shared by every tensor viewing the buffer. Host access presents NHWC whatever this is.
    var layout = MemoryLayout4D.nhwc
    /// Moves on whenever the values may have changed: what caches of derived values compare.
    /// Reading values never moves it.
    public private(set) var version: UInt64 = 0
    /// The buffer's real size, which may exceed `count` elements when the pool hands out a larger one.
    private var capacityBytes: Int

    /// Bytes holding the `count` elements.
    public var byteCount: Int { count * device.elementBytes(dtype) }

    @inline(__always) public func markModified() { version &+= 1 }

    /// Takes `other`'s buffer (same size) and gives it this one: an out-of-place layout conversion
    /// becomes in place without a copy back. Callers that change the values bump the version.
    func swapBuffer(with other: Storage) {
        precondition(other.count == count, "swapping buffers of different sizes")
        precondition(other.dtype == dtype, "swapping buffers of different dtypes")
        swap(&raw, &other.raw)
        swap(&capacityBytes, &other.capacityBytes)
        swap(&pool, &other.pool)
    }

    /// The pool the buffer came from and goes back to: the context's that was current at allocation.
    private var pool: MemoryPool

    /// A buffer on `device`, by default the current context's backend's: tensors made inside
    /// `context.run { }` belong to that context's backend.
    public init(count: Int, dtype: DType = .float32, device: Device? = nil, zeroed: Bool = false) {
        precondition(count >= 0, "negative storage size")
        let context = EngineContext.current
        let device = device ?? context.backend.device
        self.count = count
        self.dtype = dtype
        self.device = device
        pool = context.memory
        let (raw, bytes) = pool.allocate(bytes: max(count, 1) * device.elementBytes(dtype))
        switch device {
        case .cpu: dtype.bind(raw, count: max(count, 1))
        case .reference: raw.bindMemory(to: Double.self, capacity: max(count, 1))
        }
        self.raw = raw
        capacityBytes = bytes
        if zeroed { memset(raw, 0, byteCount) }
    }

    deinit {
        pool.release(raw, bytes: capacityBytes)
    }
}

/// The memory order of a 4-D activation ([N, H, W, C] logically): a backend detail.
enum MemoryLayout4D: String, Sendable {
    /// Channels last, the public layout.
    case nhwc
    /// oneDNN's nChw8c: channels in blocks of 8 (one AVX2 register of floats), each block stored as
    /// its own NHW8 slab.
    case nChw8c
    /// oneDNN's nChw16c: blocks of 16 channels, one AVX-512 register, each stored as an NHW16 slab.
    case nChw16c
    /// Channels first: the reference backend's activations (a layout no CPU kernel reads).
    case nchw

    /// The channels per block of a blocked layout; nil for the plain ones.
    var channelBlock: Int? {
        switch self {
        case .nChw8c: 8
        case .nChw16c: 16
        case .nhwc, .nchw: nil
        }
    }

    /// The blocked layout of `channelBlock` channels per block, if the engine has one.
    init?(channelBlock: Int) {
        switch channelBlock {
        case 8: self = .nChw8c
        case 16: self = .nChw16c
        default: return nil
        }
    }
}
