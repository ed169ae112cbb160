import CDNNL

/// The CPU backend: convolution, batch norm, pooling, inner product and elementwise ops on oneDNN
/// (its OpenMP pool does the threading), and a few small kernels in Swift.
public final class CPUBackend: ComputeBackend {
    public let device = Device.cpu
    let cache = PrimitiveCache.shared
    private var layoutChoices: [String: MemoryLayout4D] = [:]

    public init() {}

    /// A layout decided once per op shape (it may cost a trial primitive).
    func layoutChoice(_ key: String, decide: () -> MemoryLayout4D) -> MemoryLayout4D {
        if let l = layoutChoices[key] { return l }
        let l = decide()
        layoutChoices[key] = l
        return l
    }

    /// Runs a primitive whose weights oneDNN wants in its own blocked layout: plain `plainMD` data is
    /// reordered into a temporary buffer first when the two layouts differ.
    func blockedWeights(_ w: Tensor, plain plainMD: dnnl_memory_desc_t, wanted: dnnl_memory_desc_t) -> (UnsafeMutableRawPointer, Storage?) {
        if descEqual(plainMD, wanted) { return (raw(w), nil) }
        let tmp = Storage(count: (descSize(wanted) + 3) / 4)
        reorder(from: plainMD, raw(w), to: wanted, UnsafeMutableRawPointer(tmp.pointer))
        return (UnsafeMutableRawPointer(tmp.pointer), tmp)
    }
}

@inline(__always) func raw(_ t: Tensor) -> UnsafeMutableRawPointer { t.storage.raw }
@inline(__always) func raw(_ s: Storage) -> UnsafeMutableRawPointer { s.raw }

/// Builds an op descriptor in place and turns it into a primitive.
func makePrimitive<D>(_ name: String, _ initDesc: (inout D) -> dnnl_status_t, empty: D,
                      postOps: dnnl_post_ops_t? = nil, hint: Primitive? = nil) -> Primitive {
    var d = empty
    dnnlCheck(initDesc(&d), "\(name) op descriptor")
    return withUnsafePointer(to: &d) { Primitive(name, opDesc: UnsafeRawPointer($0), postOps: postOps, hint: hint) }
}

