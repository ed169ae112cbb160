import CDNNL
import Foundation

/// The CPU backend: convolution, batch norm, pooling, inner product and elementwise ops on oneDNN
/// (its OpenMP pool does the threading), and a few small kernels in Swift.
/// Each instance has its own oneDNN stream, scratchpad and caches, so two backends can run on two
/// threads at once; one backend serves one thread at a time.
public final class CPUBackend: ComputeBackend {
    public let device = Device.cpu
    /// Every fusion oneDNN offers, less those `EngineOptions.capabilities` masks off.
    public var capabilities: BackendCapabilities { options.capabilities }
    let options: EngineOptions
    let dnnl: DNNLContext
    let cache = PrimitiveCache()
    let weightCache = BlockedWeightCache()
    private var layoutChoices: [PrimitiveKey: MemoryLayout4D] = [:]
    private let layoutLock = NSLock()
    /// The blocked layout activations take where their channels fill whole blocks: oneDNN's choice
    /// for this CPU (`PreferredActivationLayout`), the one the options force, or NHWC.
    let blockedLayout: MemoryLayout4D

    public init(options: EngineOptions = .default, profiler: Profiler = Profiler()) {
        self.options = options
        dnnl = DNNLContext(profiler: profiler)
        switch options.activationLayout {
        case .blocked: blockedLayout = PreferredActivationLayout.query(engine: dnnl.engine)
        case .nChw8c: blockedLayout = .nChw8c
        case .nChw16c: blockedLayout = .nChw16c
        case .nhwc: blockedLayout = .nhwc
        }
    }

    var profiler: Profiler { dnnl.profiler }

    /// A layout decided once per op shape (it may cost a trial primitive).
    func layoutChoice(_ key: PrimitiveKey, decide: () -> MemoryLayout4D) -> MemoryLayout4D {
        layoutLock.lock()
        let known = layoutChoices[key]
        layoutLock.unlock()
        if let known { return known }
        let l = decide()
        layoutLock.lock(); layoutChoices[key] = l; layoutLock.unlock()
        return l
    }

    /// Builds an op descriptor in place and turns it into a primitive on this backend's engine.
    func makePrimitive<D>(_ name: String, _ initDesc: (inout D) -> dnnl_status_t, empty: D,
                          postOps: dnnl_post_ops_t? = nil, hint: Primitive? = nil) -> Primitive {
        var d = empty
        dnnlCheck(initDesc(&d), "\(name) op descriptor")
        return withUnsafePointer(to: &d) { Primitive(name, opDesc: UnsafeRawPointer($0), postOps: postOps, hint: hint, context: dnnl) }
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

extension EngineContext {
    /// The backend as the CPU one, for the CPU code's own state (a CPU tensor's blocked layout is
    /// converted by the current context's CPU backend).
    var cpu: CPUBackend {
        guard let cpu = backend as? CPUBackend else { preconditionFailure("the engine context's backend is not the CPU backend") }
        return cpu
    }
}
