import Foundation

/// Per-op timing for `resnet benchmark --detail`: every oneDNN primitive execution and every
/// Swift-side kernel is timed when enabled, so a step's time splits into convolution, batch norm,
/// elementwise, pooling, reorders and the rest, and the next bottleneck is visible. Off by default:
/// then each op pays one branch. One per engine context, used by that context's thread only.
public final class Profiler: @unchecked Sendable {
    /// What an op is, for the breakdown.
    public enum Kind: String, CaseIterable, Codable, Sendable {
        case convolution, batchNorm = "batch norm", pooling, innerProduct = "inner product", elementwise, reorder,
             loss, swiftKernels = "Swift kernels", optimizer,
             /// Step time no op accounts for: autodiff bookkeeping, allocation, Swift glue.
             other
    }

    /// Which part of a training step an op ran in.
    public enum Pass: String, CaseIterable, Codable, Sendable {
        case forward, backward
        /// Forward work rerun in backward to rebuild an activation that was not kept.
        case recompute
        /// The optimizer's parameter update.
        case update
    }

    /// Totals for one (kind, pass) pair, or for one primitive shape.
    public struct Entry: Codable, Sendable {
        public var kind: Kind
        /// nil for the step time no op accounts for.
        public var pass: Pass?
        /// The primitive, for per-shape entries; nil in the per-kind totals.
        public var primitive: PrimitiveKey?
        public var calls: Int
        public var seconds: Double

        public init(kind: Kind, pass: Pass?, primitive: PrimitiveKey? = nil, calls: Int, seconds: Double) {
            self.kind = kind; self.pass = pass; self.primitive = primitive; self.calls = calls; self.seconds = seconds
        }
    }

    private struct KindAndPass: Hashable { let kind: Kind, pass: Pass }

    public private(set) var isEnabled = false
    /// Timed regions open now: one inside another (a reorder inside a Swift kernel's `pointer` read)
    /// counts only in the outer one, so the totals never add up to more than the step.
    private var open = 0
    private var byKind: [KindAndPass: Entry] = [:]
    private var byPrimitive: [PrimitiveKey: Entry] = [:]

    public init() {}

    /// Clears the totals and starts (or stops) timing.
    public func start(_ enabled: Bool = true) {
        byKind = [:]; byPrimitive = [:]
        isEnabled = enabled
        open = 0
    }

    public func stop() { isEnabled = false }

    /// True while backward reruns forward work to rebuild an activation it did not keep; forward
    /// primitives then count as pass `.recompute`, which shows what the memory saving costs.
    public private(set) var isRecomputing = false

    /// Runs `body` as recomputation (see `isRecomputing`).
    public func recomputing<T>(_ body: () throws -> T) rethrows -> T {
        let was = isRecomputing
        isRecomputing = true
        defer { isRecomputing = was }
        return try body()
    }

    /// `.recompute` for forward work while recomputing, else `pass`.
    var forwardPass: Pass { isRecomputing ? .recompute : .forward }

    @inline(__always) static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Adds one timed call (a context's ops run one at a time on its thread, so no lock is needed).
    func record(_ kind: Kind, pass: Pass, primitive: PrimitiveKey? = nil, since start: UInt64) {
        let seconds = Double(Profiler.now() &- start) / 1e9
        let k = KindAndPass(kind: kind, pass: pass)
        byKind[k, default: Entry(kind: kind, pass: pass, calls: 0, seconds: 0)].calls += 1
        byKind[k]!.seconds += seconds
        guard let primitive else { return }
        byPrimitive[primitive, default: Entry(kind: kind, pass: pass, primitive: primitive, calls: 0, seconds: 0)].calls += 1
        byPrimitive[primitive]!.seconds += seconds
    }

    /// Times `body` as one call of `kind` when profiling is on.
    @inline(__always)
    public func measure<T>(_ kind: Kind, pass: Pass = .forward, _ body: () throws -> T) rethrows -> T {
        let start = begin()
        defer { end(kind, pass: pass, start) }
        return try body()
    }

    /// `let t = profiler.begin(); defer { profiler.end(.loss, t) }`: times a whole function body.
    @inline(__always) public func begin() -> UInt64 {
        guard isEnabled else { return 0 }
        open += 1
        return Profiler.now()
    }

    /// Ends the region `begin` opened, recording it unless it ran inside another one.
    @inline(__always) public func end(_ kind: Kind, pass: Pass = .forward, primitive: PrimitiveKey? = nil, _ start: UInt64) {
        guard start != 0 else { return }
        open = max(open - 1, 0)
        if isEnabled && open == 0 { record(kind, pass: pass, primitive: primitive, since: start) }
    }

    /// Totals per kind and pass, largest first.
    public var kinds: [Entry] { byKind.values.sorted { $0.seconds > $1.seconds } }

    /// Totals per primitive shape, largest first.
    public var primitives: [Entry] { byPrimitive.values.sorted { $0.seconds > $1.seconds } }
}
