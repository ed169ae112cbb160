import Foundation

/// Per-op timing for `resnet benchmark --detail`: every oneDNN primitive execution and every
/// Swift-side kernel is timed when enabled, so a step's time splits into convolution, batch norm,
/// elementwise, pooling, reorders and the rest, and the next bottleneck is visible. Off by default:
/// then each op pays one branch.
public enum Profiler {
    /// What an op is, for the breakdown.
    public enum Kind: String, CaseIterable, Codable, Sendable {
        case convolution, batchNorm = "batch norm", pooling, innerProduct = "inner product", elementwise, reorder,
             loss, swiftKernels = "Swift kernels", optimizer,
             /// Step time no op accounts for: autodiff bookkeeping, allocation, Swift glue.
             other

        /// The kind of a oneDNN primitive, from the name it was created with.
        static func of(primitive name: String) -> Kind {
            if name.hasPrefix("convolution") { return .convolution }
            if name.hasPrefix("batch norm") { return .batchNorm }
            if name.hasPrefix("pooling") { return .pooling }
            if name.hasPrefix("inner product") { return .innerProduct }
            if name.hasPrefix("reorder") { return .reorder }
            return .elementwise
        }
    }

    /// Totals for one (kind, pass) pair, or for one primitive shape.
    public struct Entry: Codable, Sendable {
        public var kind: Kind
        /// "forward", "backward" or "update".
        public var pass: String
        /// The primitive's cache key (op and shapes) for per-shape entries, else empty.
        public var label: String
        public var calls: Int
        public var seconds: Double

        public init(kind: Kind, pass: String, label: String, calls: Int, seconds: Double) {
            self.kind = kind; self.pass = pass; self.label = label; self.calls = calls; self.seconds = seconds
        }
    }

    nonisolated(unsafe) public private(set) static var isEnabled = false
    nonisolated(unsafe) private static var byKind: [String: Entry] = [:]
    nonisolated(unsafe) private static var byLabel: [String: Entry] = [:]

    /// Clears the totals and starts (or stops) timing.
    public static func start(_ enabled: Bool = true) {
        byKind = [:]; byLabel = [:]
        isEnabled = enabled
    }

    public static func stop() { isEnabled = false }

    /// True while backward reruns forward work to rebuild an activation it did not keep; forward
    /// primitives then count as pass "recompute", which shows what the memory saving costs.
    nonisolated(unsafe) public private(set) static var isRecomputing = false

    /// Runs `body` as recomputation (see `isRecomputing`).
    public static func recomputing<T>(_ body: () throws -> T) rethrows -> T {
        let was = isRecomputing
        isRecomputing = true
        defer { isRecomputing = was }
        return try body()
    }

    @inline(__always) static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Adds one timed call (ops run one at a time on the calling thread, so no lock is needed).
    static func record(_ kind: Kind, pass: String, label: String, since start: UInt64) {
        let seconds = Double(now() &- start) / 1e9
        let k = kind.rawValue + "|" + pass
        byKind[k, default: Entry(kind: kind, pass: pass, label: "", calls: 0, seconds: 0)].calls += 1
        byKind[k]!.seconds += seconds
        guard !label.isEmpty else { return }
        byLabel[label, default: Entry(kind: kind, pass: pass, label: label, calls: 0, seconds: 0)].calls += 1
        byLabel[label]!.seconds += seconds
    }

    /// Times `body` as one call of `kind` when profiling is on.
    @inline(__always)
    public static func measure<T>(_ kind: Kind, pass: String = "forward", _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let start = now()
        defer { record(kind, pass: pass, label: "", since: start) }
        return try body()
    }

    /// `let t = Profiler.begin(); defer { Profiler.end(.loss, t) }`: times a whole function body.
    @inline(__always) public static func begin() -> UInt64 { isEnabled ? now() : 0 }

    @inline(__always) public static func end(_ kind: Kind, pass: String = "forward", _ start: UInt64) {
        if isEnabled && start != 0 { record(kind, pass: pass, label: "", since: start) }
    }

    /// Totals per kind and pass, largest first.
    public static var kinds: [Entry] { byKind.values.sorted { $0.seconds > $1.seconds } }

    /// Totals per primitive shape, largest first.
    public static var primitives: [Entry] { byLabel.values.sorted { $0.seconds > $1.seconds } }
}
