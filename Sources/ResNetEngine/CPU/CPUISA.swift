import CDNNL

/// The instruction set oneDNN dispatches its kernels to on this machine: the CPU's, capped by
/// `ONEDNN_MAX_CPU_ISA` when that is set. Read from oneDNN, never assumed.
public enum CPUISA: Equatable, Sendable, CustomStringConvertible {
    case sse41, avx, avx2, avx2VNNI, avx512Core, avx512CoreVNNI, avx512CoreBF16, avx512CoreAMX
    /// A value this oneDNN version does not name (its raw bits).
    case other(UInt32)

    init(_ isa: dnnl_cpu_isa_t) {
        switch isa {
        case dnnl_cpu_isa_sse41: self = .sse41
        case dnnl_cpu_isa_avx: self = .avx
        case dnnl_cpu_isa_avx2: self = .avx2
        case dnnl_cpu_isa_avx2_vnni: self = .avx2VNNI
        case dnnl_cpu_isa_avx512_core: self = .avx512Core
        case dnnl_cpu_isa_avx512_core_vnni: self = .avx512CoreVNNI
        case dnnl_cpu_isa_avx512_core_bf16: self = .avx512CoreBF16
        case dnnl_cpu_isa_avx512_core_amx: self = .avx512CoreAMX
        default: self = .other(isa.rawValue)
        }
    }

    /// Whether the 512-bit AVX-512 kernels run (nChw16c is then their layout).
    public var hasAVX512: Bool {
        switch self {
        case .avx512Core, .avx512CoreVNNI, .avx512CoreBF16, .avx512CoreAMX: true
        default: false
        }
    }

    /// oneDNN's name, as `ONEDNN_MAX_CPU_ISA` spells it (lower case) and kernel names end.
    public var name: String {
        switch self {
        case .sse41: "sse41"
        case .avx: "avx"
        case .avx2: "avx2"
        case .avx2VNNI: "avx2_vnni"
        case .avx512Core: "avx512_core"
        case .avx512CoreVNNI: "avx512_core_vnni"
        case .avx512CoreBF16: "avx512_core_bf16"
        case .avx512CoreAMX: "avx512_core_amx"
        case .other(let bits): "0x" + String(bits, radix: 16)
        }
    }

    /// The name and what the ISA adds.
    public var description: String {
        switch self {
        case .sse41: "sse41 (SSE4.1)"
        case .avx: "avx (AVX)"
        case .avx2: "avx2 (AVX2)"
        case .avx2VNNI: "avx2_vnni (AVX2 with VNNI)"
        case .avx512Core: "avx512_core (AVX-512)"
        case .avx512CoreVNNI: "avx512_core_vnni (AVX-512 with VNNI)"
        case .avx512CoreBF16: "avx512_core_bf16 (AVX-512 with VNNI and bfloat16)"
        case .avx512CoreAMX: "avx512_core_amx (AVX-512 with AMX)"
        case .other: "oneDNN ISA \(name)"
        }
    }
}

extension OneDNN {
    /// The ISA oneDNN's kernels run with here.
    public static var isa: CPUISA { CPUISA(dnnl_get_effective_cpu_isa()) }
}
