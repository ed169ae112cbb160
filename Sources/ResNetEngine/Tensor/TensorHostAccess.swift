/// Host access: the only way Swift code outside a backend sees or changes a tensor's values.
/// Reads never change the tensor, its storage's order or its `version` (a blocked activation is
/// reordered into a temporary copy); writes go through `withMutableHostValues`, which bumps the
/// version once so caches of derived values (folded inference weights) rebuild.
extension Tensor {
    /// The values in row-major order of `shape`, as Floats whatever the dtype.
    public func toArray() -> [Float] { withHostValues { Array($0) } }

    /// The values of a tensor of `T`'s dtype, in row-major order of `shape`.
    public func toArray<T: HostScalar>(as type: T.Type) -> [T] { withHostValues(as: type) { Array($0) } }

    /// Runs `body` on the values in row-major order of `shape` as Floats, read-only: the tensor's
    /// own buffer when it is plain float32 (no copy), else a converted temporary.
    public func withHostValues<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try withHostValues(as: Float.self, converting: true, body)
    }

    /// Runs `body` on the values of a tensor of `T`'s dtype (an Int32 tensor read as Int32), read-only.
    public func withHostValues<T: HostScalar, R>(as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        try withHostValues(as: type, converting: false, body)
    }

    private func withHostValues<T: HostScalar, R>(as _: T.Type, converting: Bool,
                                                  _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(converting || dtype == T.dtype, "reading a \(dtype) tensor as \(T.self): convert it with converted(to: .\(T.dtype)) first")
        let plain = device.hostAccess.plain(self, as: T.dtype)
        return try withExtendedLifetime(plain) {
            try body(UnsafeBufferPointer(start: plain.storage.raw.assumingMemoryBound(to: T.self), count: count))
        }
    }

    /// Runs `body` on the float32 values in row-major order of `shape`, writable: on the CPU in the
    /// tensor's own buffer (reordered to the plain layout first if the backend keeps it blocked), on
    /// the reference device in a float32 copy written back after. Bumps the storage's version once.
    public func withMutableHostValues<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try withMutableHostValues(as: Float.self, body)
    }

    /// Runs `body` on the values of a tensor of `T`'s dtype, writable; bumps the version once.
    public func withMutableHostValues<T: HostScalar, R>(as _: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(dtype == T.dtype, "writing a \(dtype) tensor as \(T.self)")
        defer { storage.markModified() }
        return try device.hostAccess.withMutableValues(self, as: T.self, overwriting: false, body)
    }

    /// Runs `body` to write every value of a fresh tensor (row-major, as `T`): the convenience
    /// initialisers fill tensors of any device this way, with no read of the uninitialised values.
    func initializeHostValues<T: HostScalar>(as _: T.Type, _ body: (UnsafeMutableBufferPointer<T>) -> Void) {
        precondition(dtype == T.dtype, "writing a \(dtype) tensor as \(T.self)")
        device.hostAccess.withMutableValues(self, as: T.self, overwriting: true, body)
    }

    /// A tensor of the given values and their dtype (Int32 labels, UInt8 pixels, Int64 counters).
    public convenience init<T: HostScalar>(shape: [Int], values: [T]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values do not fill shape \(shape)")
        self.init(empty: shape, dtype: T.dtype)
        initializeHostValues(from: values)
    }

    /// Writes `values` (one per element, row-major) into a fresh tensor of their dtype.
    func initializeHostValues<T: HostScalar>(from values: [T]) {
        initializeHostValues(as: T.self) { _ = $0.update(fromContentsOf: values) }
    }

    /// The same values in `dtype`, in a new plain tensor on the same device (itself when it already
    /// has that dtype). Float to integer rounds to nearest even and saturates; float32 to bfloat16
    /// and float16 rounds to nearest even, as oneDNN does. Off the tape: no gradient flows through a conversion.
    public func converted(to dtype: DType) -> Tensor {
        dtype == self.dtype ? self : device.hostAccess.converted(self, to: dtype)
    }
}

extension Device {
    /// The backend code that presents this device's storages to Swift code.
    var hostAccess: any HostAccess {
        switch self {
        case .cpu: CPUHostAccess()
        case .reference: ReferenceHostAccess()
        }
    }
}

/// What a device provides for host access: its storages' values in the plain row-major order and
/// in a requested dtype, as host memory of that dtype. Implemented per device (`CPUHostAccess`,
/// `ReferenceHostAccess`), so the tensor types stay free of any backend's calls.
protocol HostAccess {
    /// `t`'s values, plain and in `dtype`, in a buffer of `dtype`'s host type: `t` itself when it
    /// already is that, else a new (CPU) tensor. Never changes `t`.
    func plain(_ t: Tensor, as dtype: DType) -> Tensor
    /// Reorders `t`'s storage to the plain order in place (every tensor viewing it sees the change);
    /// leaves the version alone, since the values are the same. What a reshape needs.
    func makePlain(_ t: Tensor)
    /// Runs `body` on `t`'s values as a writable plain buffer of `T` (read first unless
    /// `overwriting`, kept in `t` afterwards). The caller moves the version.
    func withMutableValues<T: HostScalar, R>(_ t: Tensor, as: T.Type, overwriting: Bool,
                                             _ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R
    /// `t`'s values in `dtype`, in a new plain tensor on `t`'s device.
    func converted(_ t: Tensor, to dtype: DType) -> Tensor
}
