/// Host access to reference storages: values leave as host buffers of the requested dtype in NHWC
/// order (converted from the Doubles, rounded to nearest even and saturated as the CPU's reorders
/// do) and come back converted to Doubles in the storage's own order. Reads never touch the tensor.
/// Values written through host access are float32 (or the dtype's) values, so a write rounds.
struct ReferenceHostAccess: HostAccess {
    func plain(_ t: Tensor, as dtype: DType) -> Tensor {
        let out = Tensor(empty: t.shape, dtype: dtype, device: .cpu)
        let (src, layout) = (t.doubles, t.storage.layout)
        func store<T>(_: T.Type, _ convert: (Double) -> T) {
            copyValues(t.shape, src, layout, to: out.storage.raw.assumingMemoryBound(to: T.self), .nhwc, convert)
        }
        switch dtype {
        case .float32: store(Float.self) { Float($0) }
        case .float16: store(Float16.self) { Float16(Float($0)) }
        case .bfloat16: store(UInt16.self) { bfloat16Bits(Float($0)) }
        case .int64: store(Int64.self, roundedClamped)
        case .int32: store(Int32.self, roundedClamped)
        case .uint8: store(UInt8.self, roundedClamped)
        case .int8: store(Int8.self, roundedClamped)
        }
        return out
    }

    /// Reorders a channels-first activation to row-major in place (what a reshape needs).
    func makePlain(_ t: Tensor) {
        guard t.storage.layout != .nhwc else { return }
        let tmp = Storage(count: t.storage.count, dtype: t.dtype, device: .reference)
        copyValues(t.shape, t.doubles, t.storage.layout, to: tmp.raw.assumingMemoryBound(to: Double.self), .nhwc) { $0 }
        t.storage.swapBuffer(with: tmp)
        t.storage.layout = .nhwc
    }

    /// A host copy (uninitialised when `overwriting`), written back after `body`.
    func withMutableValues<T: HostScalar, R>(_ t: Tensor, as _: T.Type, overwriting: Bool,
                                             _ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
        let host = overwriting ? Tensor(empty: t.shape, dtype: T.dtype, device: .cpu) : plain(t, as: T.dtype)
        let result = try body(UnsafeMutableBufferPointer(start: host.storage.raw.assumingMemoryBound(to: T.self), count: t.count))
        load(host, into: t)
        return result
    }

    func converted(_ t: Tensor, to dtype: DType) -> Tensor {
        let out = Tensor(empty: t.shape, dtype: dtype, device: .reference)
        load(plain(t, as: dtype), into: out)
        return out
    }

    /// Copies a plain host tensor's values into reference tensor `t` (same shape and dtype), as Doubles in `t`'s order.
    private func load(_ host: Tensor, into t: Tensor) {
        let (dst, layout) = (t.doubles, t.storage.layout)
        func load<S>(_: S.Type, _ convert: (S) -> Double) {
            copyValues(t.shape, host.storage.raw.assumingMemoryBound(to: S.self), .nhwc, to: dst, layout, convert)
        }
        switch host.dtype {
        case .float32: load(Float.self) { Double($0) }
        case .float16: load(Float16.self) { Double($0) }
        case .bfloat16: load(UInt16.self) { Double(Float(bitPattern: UInt32($0) << 16)) }
        case .int64: load(Int64.self) { Double($0) }
        case .int32: load(Int32.self) { Double($0) }
        case .uint8: load(UInt8.self) { Double($0) }
        case .int8: load(Int8.self) { Double($0) }
        }
    }
}

/// float32 to bfloat16 bits, rounded to nearest even (NaN kept a quiet NaN).
private func bfloat16Bits(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    if f.isNaN { return UInt16(bits >> 16) | 0x40 }
    return UInt16((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
}
