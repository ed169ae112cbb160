import CDNNL
import Foundation

/// Raised when oneDNN refuses a primitive: names the operation and oneDNN's status.
public struct DNNLError: Error, CustomStringConvertible {
    public let operation: String
    public let status: String
    public var description: String { "oneDNN: \(operation) failed with \(status)" }
}

/// A thread count outside 1...`OneDNN.maxThreads` (the cores of this machine).
public struct ThreadCountError: Error, CustomStringConvertible, Equatable {
    public let requested: Int
    public let limit: Int
    public init(requested: Int, limit: Int) { self.requested = requested; self.limit = limit }
    public var description: String { "threads must be between 1 and \(limit) (the cores of this machine), got \(requested)" }
}

@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ operation: @autoclosure () -> String) {
    if status != dnnl_success {
        let name = String(cString: dnnl_status2str(status))
        fatalError(DNNLError(operation: operation(), status: name).description)
    }
}

/// One backend's oneDNN engine, stream and scratchpad, and the profiler its primitives report to.
/// A stream runs ops in order, and oneDNN's own OpenMP pool supplies the parallelism inside each
/// op, so it is driven from one thread at a time: another thread needs another backend.
final class DNNLContext: @unchecked Sendable {
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    let profiler: Profiler
    /// One scratchpad shared by this stream's primitives (ops run one at a time), grown on demand.
    private var scratchpad: Storage?

    init(profiler: Profiler) {
        self.profiler = profiler
        var e: dnnl_engine_t?
        dnnlCheck(dnnl_engine_create(&e, dnnl_cpu, 0), "engine create")
        engine = e!
        var s: dnnl_stream_t?
        dnnlCheck(dnnl_stream_create(&s, engine, dnnl_stream_default_flags.rawValue), "stream create")
        stream = s!
    }

    deinit {
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }

    func scratchpad(bytes: Int) -> UnsafeMutableRawPointer {
        let floats = (bytes + 3) / 4
        if scratchpad == nil || scratchpad!.count < floats {
            scratchpad = nil
            scratchpad = Storage(count: floats)
        }
        return scratchpad!.raw
    }
}

/// A memory descriptor built from logical dims (N, C, H, W order, as oneDNN wants) and a format tag.
func memoryDesc(_ dims: [Int], _ tag: dnnl_format_tag_t, _ type: dnnl_data_type_t = dnnl_f32) -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    let d = dims.map { Int64($0) }
    dnnlCheck(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, type, tag), "memory desc \(dims)")
    return md
}

/// A tensor of logical shape [N, H, W, C] is described to oneDNN as dims (N, C, H, W) in `layout`.
func activationDesc(_ shape: [Int], _ layout: MemoryLayout4D = .nhwc, _ type: dnnl_data_type_t = dnnl_f32) -> dnnl_memory_desc_t {
    precondition(shape.count == 4, "expected an NHWC tensor, got shape \(shape)")
    return memoryDesc([shape[0], shape[3], shape[1], shape[2]], layout.dnnlTag, type)
}

extension MemoryLayout4D {
    /// oneDNN's format tag for an activation of dims (N, C, H, W) in this layout.
    var dnnlTag: dnnl_format_tag_t {
        switch self {
        case .nhwc: dnnl_nhwc
        case .nChw8c: dnnl_nChw8c
        case .nChw16c: dnnl_nChw16c
        case .nchw: dnnl_nchw
        }
    }
}

/// An activation described in the layout its buffer has now.
func activationDesc(_ t: Tensor) -> dnnl_memory_desc_t { activationDesc(t.shape, t.storage.layout) }

extension CPUBackend {
    /// The layout convolutions produce and want: this backend's blocked layout (`blockedLayout`, what
    /// oneDNN picks on this CPU: nChw8c with AVX2, whose jit:avx2 convolutions ran ResNet-50's 3x3 and
    /// 1x1 layers about 1.45x faster on it than on NHWC; nChw16c with AVX-512) when the channels fill
    /// whole blocks, else NHWC. The `.nhwc` activation layout option keeps everything NHWC.
    func preferredLayout(channels: Int) -> MemoryLayout4D {
        guard let block = blockedLayout.channelBlock, channels % block == 0 else { return .nhwc }
        return blockedLayout
    }

    /// Reorders a 4-D activation into `layout` in place (its storage takes the reordered buffer), so
    /// every tensor sharing the storage sees the new order. With H = W = 1 both layouts are the same bytes.
    /// The values are the same, so the version stays: host writes bump it after converting.
    func convertLayout(_ t: Tensor, to layout: MemoryLayout4D) {
        let s = t.storage
        guard s.layout != layout else { return }
        precondition(t.rank == 4, "only 4-D activations have a blocked layout, got \(t.shape)")
        precondition(s.dtype == .float32, "only float32 activations have a blocked layout")
        if t.shape[1] * t.shape[2] > 1 && t.count > 0 {
            let tmp = Storage(count: s.count)
            reorder(from: activationDesc(t.shape, s.layout), raw(s), to: activationDesc(t.shape, layout), raw(tmp))
            s.swapBuffer(with: tmp)
        }
        s.layout = layout
    }

    /// `t` in `layout`: itself when it already is, else a reordered copy (the original is left alone:
    /// it may be saved for backward, or viewed by other tensors, in its own layout).
    func conform(_ t: Tensor, to layout: MemoryLayout4D) -> Tensor {
        guard t.storage.layout != layout else { return t }
        precondition(t.rank == 4, "only 4-D activations have a blocked layout, got \(t.shape)")
        let out = emptyActivation(t.shape, layout)
        reorder(from: activationDesc(t), raw(t), to: activationDesc(t.shape, layout), raw(out))
        return out
    }
}

/// Reorders `t` into `layout` in place on the current context's backend (Swift-side reads want NHWC).
func convertLayout(_ t: Tensor, to layout: MemoryLayout4D) {
    guard t.storage.layout != layout else { return }
    EngineContext.current.cpu.convertLayout(t, to: layout)
}

/// A new activation of `shape` whose buffer will be written in `layout`.
func emptyActivation(_ shape: [Int], _ layout: MemoryLayout4D) -> Tensor {
    let t = Tensor(empty: shape)
    t.storage.layout = layout
    return t
}

/// An uninitialised tensor shaped and laid out like `t`.
func emptyLike(_ t: Tensor) -> Tensor { emptyActivation(t.shape, t.storage.layout) }

/// A descriptor's logical dims, for keys.
func dims(_ md: dnnl_memory_desc_t) -> [Int] {
    withUnsafeBytes(of: md.dims) { Array($0.bindMemory(to: Int64.self).prefix(Int(md.ndims))) }.map { Int($0) }
}

func anyDesc(_ dims: [Int]) -> dnnl_memory_desc_t { memoryDesc(dims, dnnl_format_tag_any) }

func descSize(_ md: dnnl_memory_desc_t) -> Int {
    var m = md
    return Int(dnnl_memory_desc_get_size(&m))
}

func descEqual(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
    var x = a, y = b
    return dnnl_memory_desc_equal(&x, &y) != 0
}

/// The bytes of a memory descriptor, usable as a dictionary key for cached reorders.
func descKey(_ md: dnnl_memory_desc_t) -> Data {
    var m = md
    return withUnsafeBytes(of: &m) { Data($0) }
}

/// A created primitive with its descriptor. Built once per shape and reused: see `PrimitiveCache`.
final class Primitive: @unchecked Sendable {
    let pd: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t
    let name: String
    /// The stream it runs on and the profiler it reports to.
    let context: DNNLContext
    /// The cache key (op and shapes): how `--detail` names the slowest primitives.
    fileprivate(set) var key: PrimitiveKey?

    /// Creates the primitive descriptor from an op descriptor. Scratchpad memory is user-managed so
    /// all primitives of a stream share one buffer.
    init(_ name: String, opDesc: UnsafeRawPointer, postOps: dnnl_post_ops_t? = nil, hint: Primitive? = nil, context: DNNLContext) {
        self.name = name
        self.context = context
        var attr: dnnl_primitive_attr_t?
        dnnlCheck(dnnl_primitive_attr_create(&attr), "attr create")
        defer { dnnl_primitive_attr_destroy(attr) }
        dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode")
        if let postOps { dnnlCheck(dnnl_primitive_attr_set_post_ops(attr, postOps), "post-ops") }
        var p: dnnl_primitive_desc_t?
        dnnlCheck(dnnl_primitive_desc_create(&p, opDesc, attr, context.engine, hint?.pd), "\(name) descriptor")
        pd = p!
        var prim: dnnl_primitive_t?
        dnnlCheck(dnnl_primitive_create(&prim, pd), "\(name) primitive")
        primitive = prim!
    }

    /// Wraps an already created primitive descriptor (reorders come this way).
    init(_ name: String, pd: dnnl_primitive_desc_t, context: DNNLContext) {
        self.name = name
        self.context = context
        self.pd = pd
        var prim: dnnl_primitive_t?
        dnnlCheck(dnnl_primitive_create(&prim, pd), "\(name) primitive")
        primitive = prim!
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(pd)
    }

    /// The implementation oneDNN chose, e.g. `brgconv:avx512_core` or `ref:any` (a bug on hot paths).
    var implementation: String {
        var s: UnsafePointer<CChar>?
        dnnlCheck(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s), "impl query")
        return s.map { String(cString: $0) } ?? "?"
    }

    func desc(_ what: dnnl_query_t, _ index: Int32 = 0) -> dnnl_memory_desc_t {
        guard let md = dnnl_primitive_desc_query_md(pd, what, index) else { return dnnl_memory_desc_t() }
        return md.pointee
    }

    /// Runs the primitive on the given buffers, each described by the md it was created with.
    func execute(_ args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)]) {
        let ctx = context
        var all = args
        let scratchMD = desc(dnnl_query_scratchpad_md)
        let scratchBytes = descSize(scratchMD)
        if scratchBytes > 0 {
            all.append((DNNL_ARG_SCRATCHPAD, scratchMD, ctx.scratchpad(bytes: scratchBytes)))
        }
        var execArgs: [dnnl_exec_arg_t] = []
        execArgs.reserveCapacity(all.count)
        for (arg, md, ptr) in all {
            var m = md
            var mem: dnnl_memory_t?
            dnnlCheck(dnnl_memory_create(&mem, &m, ctx.engine, ptr), "\(name) memory")
            execArgs.append(dnnl_exec_arg_t(arg: arg, memory: mem))
        }
        defer { for a in execArgs { dnnl_memory_destroy(a.memory) } }
        let profiler = ctx.profiler
        let start = profiler.begin()
        defer {
            if start != 0 {
                let kind = key?.op.kind ?? .elementwise, backward = key?.op.isBackward ?? false
                profiler.end(kind, pass: backward ? .backward : profiler.forwardPass, primitive: key, start)
            }
        }
        dnnlCheck(dnnl_primitive_execute(primitive, ctx.stream, Int32(execArgs.count), execArgs), "\(name) execute")
        dnnlCheck(dnnl_stream_wait(ctx.stream), "\(name) wait")
    }
}

/// Primitives keyed by everything that shapes them; oneDNN's descriptor creation costs far more
/// than an execution on small tensors, so each shape is set up once per backend.
final class PrimitiveCache: @unchecked Sendable {
    private var entries: [PrimitiveKey: Primitive] = [:]
    /// The Swift kernels that ran in place of a primitive (Winograd), with their implementation
    /// names, so every op has a kernel to show.
    private var swiftKernels: [PrimitiveKey: String] = [:]
    private let lock = NSLock()

    /// Notes that a Swift kernel named `implementation` ran the op `key` describes.
    func record(_ key: PrimitiveKey, implementation: String) {
        lock.lock(); defer { lock.unlock() }
        if swiftKernels[key] == nil { swiftKernels[key] = implementation }
    }

    func get(_ key: PrimitiveKey, make: () -> Primitive) -> Primitive {
        lock.lock(); defer { lock.unlock() }
        if let p = entries[key] { return p }
        let p = make()
        if p.key == nil { p.key = key }
        entries[key] = p
        return p
    }

    /// Every cached primitive's and recorded Swift kernel's key and implementation, for the "no ref:
    /// kernels" check and `resnet info`.
    var implementations: [(key: PrimitiveKey, implementation: String)] {
        lock.lock(); defer { lock.unlock() }
        return (entries.map { ($0.key, $0.value.implementation) } + swiftKernels.map { ($0.key, $0.value) })
            .sorted { $0.key.description < $1.key.description }
    }

    func removeAll() {
        lock.lock(); entries.removeAll(); swiftKernels.removeAll(); lock.unlock()
    }
}

extension CPUBackend {
    /// Reorders between two layouts of the same logical tensor (plain OIHW weights to oneDNN's
    /// blocked choice and back, activations between NHWC and the blocked layout).
    func reorder(from src: dnnl_memory_desc_t, _ srcPtr: UnsafeMutableRawPointer,
                 to dst: dnnl_memory_desc_t, _ dstPtr: UnsafeMutableRawPointer) {
        let key = PrimitiveKey(.reorder, [dims(src)], descriptors: [descKey(src), descKey(dst)])
        let prim = cache.get(key) {
            var pd: dnnl_primitive_desc_t?
            var s = src, d = dst
            let e = dnnl.engine
            var attr: dnnl_primitive_attr_t?
            dnnlCheck(dnnl_primitive_attr_create(&attr), "attr create")
            defer { dnnl_primitive_attr_destroy(attr) }
            dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode")
            dnnlCheck(dnnl_reorder_primitive_desc_create(&pd, &s, e, &d, e, attr), "reorder descriptor")
            return Primitive("reorder", pd: pd!, context: dnnl)
        }
        prim.execute([(DNNL_ARG_FROM, src, srcPtr), (DNNL_ARG_TO, dst, dstPtr)])
    }
}

/// oneDNN's version and the number of OpenMP threads it runs on.
public enum OneDNN {
    public static var version: String {
        let v = dnnl_version()!.pointee
        return "\(v.major).\(v.minor).\(v.patch)"
    }

    /// Sets oneDNN's OpenMP thread count (what `OMP_NUM_THREADS` would set).
    public static func setThreads(_ n: Int) { OpenMP.setNumThreads?(Int32(n)) }

    public static var threads: Int { OpenMP.maxThreads.map { Int($0()) } ?? 1 }

    /// The most threads `validateThreads` accepts: this machine's cores. More only oversubscribe,
    /// and OpenMP's barriers with a thousand threads on two cores make no progress at all.
    public static var maxThreads: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Throws unless `n` is in 1...`maxThreads`; call it on a user's thread count before `setThreads`.
    public static func validateThreads(_ n: Int) throws {
        guard (1...max(maxThreads, 1)).contains(n) else { throw ThreadCountError(requested: n, limit: max(maxThreads, 1)) }
    }

    /// Every primitive the current context's backend created so far, with the implementation oneDNN picked for it.
    public static var implementations: [(key: PrimitiveKey, implementation: String)] { EngineContext.current.cpu.cache.implementations }

    /// The layout the current context's backend keeps activations in between layers where their
    /// channels fill whole blocks ("nChw16c", "nChw8c", or "nhwc"), as oneDNN names it.
    public static var activationLayout: String { EngineContext.current.cpu.blockedLayout.rawValue }
}

extension OneDNN {
    /// This machine's measured fp32 matrix-multiply rate (oneDNN's sgemm, n x n x n, median of
    /// `repeats`): the practical ceiling a convolution's GFLOP/s is judged against.
    public static func sgemmGFLOPs(size n: Int = 2048, repeats: Int = 5) -> Double {
        let a = Tensor.randomUniform([n, n], seed: 1), b = Tensor.randomUniform([n, n], seed: 2), c = Tensor(zeros: [n, n])
        let d = Int64(n)
        var times: [Double] = []
        for i in 0...repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            dnnlCheck(dnnl_sgemm(78, 78, d, d, d, 1, a.storage.pointer, d, b.storage.pointer, d, 0, c.storage.pointer, d), "sgemm")
            if i > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }  // the first call warms up
        }
        return 2 * Double(n * n * n) / times.sorted()[times.count / 2] / 1e9
    }
}
