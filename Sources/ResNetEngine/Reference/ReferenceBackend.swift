/// A second backend in plain Swift: every kernel a loop in Double over buffers of its own (every
/// element a Double, activations channels-first), written from the definitions. It shows the
/// `ComputeBackend` seam holds for storage no oneDNN code can read, and it is the oracle the CPU
/// backend is tested against. Single-threaded, so deterministic; it declares no fusions, so ops
/// compose them from core ops (`Ops/Fusions.swift`). Slow: for tests and small models only.
public final class ReferenceBackend: ComputeBackend {
    public let device = Device.reference
    public let capabilities: BackendCapabilities = []
    /// How near ReLU and max-pool branch points this backend's inputs came (`ReferenceKinkMargin`).
    public let kinkMargin = ReferenceKinkMargin()

    public init() {}

    /// Stops unless every tensor is float32 and on the reference device: another device's buffer
    /// would be read as garbage.
    func require(_ op: String, _ tensors: Tensor?...) { require(op, tensors) }

    func require(_ op: String, _ tensors: [Tensor?]) {
        for case let t? in tensors {
            precondition(t.device == .reference, "\(op) on the reference backend got a tensor on the \(t.device) device \(t.shape): "
                         + "tensors must be made in a context of the backend that runs them")
            precondition(t.dtype == .float32, "\(op) takes float32 tensors, got \(t.dtype) \(t.shape): convert with converted(to: .float32) first")
        }
    }

    /// Traps on a fused form: ops must compose it, since `capabilities` is empty.
    func unfused(_ what: String) -> Never {
        preconditionFailure("the reference backend has no fused \(what): ops compose it from core ops (BackendCapabilities)")
    }

    /// A new zeroed reference tensor; a 4-D activation is laid out channels-first.
    func output(_ shape: [Int], activation: Bool = false) -> Tensor {
        let t = Tensor(shape: shape, storage: Storage(count: shape.reduce(1, *), device: .reference, zeroed: true))
        if activation { t.storage.layout = .nchw }
        return t
    }

    /// `t`'s values in `layout` order: `t` itself when it lies so, else a reordered copy (left for
    /// the caller to drop: the original may be saved for backward in its own order).
    func conformed(_ t: Tensor, to layout: MemoryLayout4D) -> Tensor {
        guard t.storage.layout != layout, t.rank == 4 else { return t }
        let out = output(t.shape)
        out.storage.layout = layout
        copyValues(t.shape, t.doubles, t.storage.layout, to: out.doubles, layout) { $0 }
        return out
    }

    /// A 4-D activation's values channels-first.
    func nchw(_ t: Tensor) -> Tensor {
        precondition(t.rank == 4, "an NHWC activation was expected, got shape \(t.shape)")
        return conformed(t, to: .nchw)
    }
}

extension Tensor {
    /// A reference tensor's buffer: one Double per element, in `storage.layout` order.
    var doubles: UnsafeMutablePointer<Double> { storage.raw.assumingMemoryBound(to: Double.self) }
}

/// Copies the values of a tensor of `shape` from `src`, ordered by `from`, to `dst`, ordered by
/// `to`, converting each: NHWC and NCHW differ for 4-D tensors only, every other rank is row-major.
func copyValues<S, D>(_ shape: [Int], _ src: UnsafeMutablePointer<S>, _ from: MemoryLayout4D, to dst: UnsafeMutablePointer<D>,
                      _ to: MemoryLayout4D, _ convert: (S) -> D) {
    precondition(from.channelBlock == nil && to.channelBlock == nil, "the reference backend has no blocked layout")
    let count = shape.reduce(1, *)
    guard shape.count == 4, from != to else {
        for i in 0..<count { dst[i] = convert(src[i]) }
        return
    }
    let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
    for b in 0..<n { for y in 0..<h { for x in 0..<w { for ch in 0..<c {
        let nhwc = ((b * h + y) * w + x) * c + ch, nchw = ((b * c + ch) * h + y) * w + x
        if from == .nhwc { dst[nchw] = convert(src[nhwc]) } else { dst[nhwc] = convert(src[nchw]) }
    } } } }
}
