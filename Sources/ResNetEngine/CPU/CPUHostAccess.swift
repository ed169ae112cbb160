import CDNNL

extension DType {
    /// oneDNN's data type; nil for int64, which oneDNN 2.6 does not have.
    var dnnl: dnnl_data_type_t? {
        switch self {
        case .float32: dnnl_f32
        case .bfloat16: dnnl_bf16
        case .float16: dnnl_f16
        case .int32: dnnl_s32
        case .uint8: dnnl_u8
        case .int8: dnnl_s8
        case .int64: nil
        }
    }
}

/// Host access on the CPU: a blocked activation or a dtype change is one oneDNN reorder (which
/// rounds to nearest even and saturates, in its own vectorized code); int64 converts on the host,
/// exactly (or clamped) to and from the other integers, through float32 to and from the floats.
struct CPUHostAccess: HostAccess {
    func plain(_ t: Tensor, as dtype: DType) -> Tensor {
        let from = t.storage
        if from.layout == .nhwc && from.dtype == dtype { return t }
        let out = Tensor(empty: t.shape, dtype: dtype, device: .cpu)
        guard t.count > 0 else { return out }
        if let source = from.dtype.dnnl, let target = dtype.dnnl {
            if from.layout == .nhwc {
                EngineContext.current.cpu.reorder(from: memoryDesc([t.count], dnnl_a, source), from.raw, to: memoryDesc([t.count], dnnl_a, target), out.storage.raw)
            } else {
                EngineContext.current.cpu.reorder(from: activationDesc(t.shape, from.layout, source), from.raw,
                        to: activationDesc(t.shape, .nhwc, target), out.storage.raw)
            }
        } else if dtype.isInteger && from.dtype.isInteger {
            // int64 to or from another integer type: exact, or clamped to the narrower range.
            func convert<S: FixedWidthInteger>(_: S.Type) {
                let s = from.raw.assumingMemoryBound(to: S.self)
                func store<D: FixedWidthInteger>(_: D.Type) {
                    let d = out.storage.raw.assumingMemoryBound(to: D.self)
                    for i in 0..<t.count { d[i] = D(clamping: s[i]) }
                }
                switch dtype {
                case .int64: store(Int64.self)
                case .int32: store(Int32.self)
                case .uint8: store(UInt8.self)
                default: store(Int8.self)
                }
            }
            switch from.dtype {
            case .int64: convert(Int64.self)
            case .int32: convert(Int32.self)
            case .uint8: convert(UInt8.self)
            default: convert(Int8.self)
            }
        } else if dtype == .int64 {
            plain(t, as: .float32).withHostValues { floatsToInt64($0, out.storage.raw.assumingMemoryBound(to: Int64.self)) }
        } else {
            let floats = Tensor(empty: t.shape, device: .cpu)
            let source = UnsafeBufferPointer(start: from.raw.assumingMemoryBound(to: Int64.self), count: t.count)
            for (i, v) in source.enumerated() { floats.storage.pointer[i] = Float(v) }
            return plain(floats, as: dtype)
        }
        return out
    }

    func makePlain(_ t: Tensor) {
        if t.storage.layout != .nhwc { convertLayout(t, to: .nhwc) }
    }

    /// The tensor's own buffer, made plain first: no copy.
    func withMutableValues<T: HostScalar, R>(_ t: Tensor, as _: T.Type, overwriting: Bool,
                                             _ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
        if !overwriting { makePlain(t) } else { t.storage.layout = .nhwc }
        return try body(UnsafeMutableBufferPointer(start: t.storage.raw.assumingMemoryBound(to: T.self), count: t.count))
    }

    func converted(_ t: Tensor, to dtype: DType) -> Tensor { plain(t, as: dtype) }

    /// Rounds to nearest even and saturates, as oneDNN's float-to-integer reorders do (NaN becomes 0).
    private func floatsToInt64(_ source: UnsafeBufferPointer<Float>, _ out: UnsafeMutablePointer<Int64>) {
        for (i, v) in source.enumerated() { out[i] = roundedClamped(v) }
    }
}

/// CPU ops compute in float32 on CPU buffers only: any other dtype or device stops here, naming
/// the op, rather than being read as floats. Conversion is explicit (`converted(to: .float32)`).
func requireFloat32(_ op: String, _ tensors: Tensor?...) {
    for case let t? in tensors {
        precondition(t.device == .cpu, "\(op) on the CPU backend got a tensor on the \(t.device) device \(t.shape): "
                     + "tensors must be made in a context of the backend that runs them")
        if t.dtype != .float32 {
            preconditionFailure("\(op) takes float32 tensors, got \(t.dtype) \(t.shape): convert with converted(to: .float32) first")
        }
    }
}
