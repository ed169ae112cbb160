import Foundation

/// What an engine context does where more than one choice is sound. Typed, so a test or a caller
/// sets them per context; the `SWIFTRESNET_*` variables only override the defaults.
public struct EngineOptions: Equatable, Sendable {
    /// How activations lie in memory between layers. Values read from Swift are NHWC either way.
    public enum ActivationLayout: String, Sendable {
        /// The channel-blocked layout oneDNN's convolutions pick on this CPU (nChw16c where its
        /// AVX-512 kernels run, nChw8c on AVX2, whose convolutions ran ResNet-50's layers about
        /// 1.45x faster on it than on NHWC), wherever the channels fill whole blocks and the shape has
        /// a kernel better than oneDNN's reference one; NHWC if oneDNN picks no channel block.
        case blocked
        /// nChw8c or nChw16c whatever the CPU, wherever the channels fill whole blocks, even on
        /// oneDNN's reference kernels: to compare the layouts on one machine and to test the other one.
        case nChw8c, nChw16c
        /// NHWC everywhere.
        case nhwc
    }

    /// Which backend a context with these options runs its ops on.
    public enum BackendKind: String, Sendable {
        /// oneDNN, float32: the one to train and serve with.
        case cpu
        /// Plain Swift loops in float64 (`ReferenceBackend`): an oracle for tests, far slower.
        case reference
    }

    public var backend: BackendKind
    /// The fused forms ops may use, masked with what the backend has: `[]` runs every fusion as
    /// separate core ops on any backend (what a backend without them gets), for comparison.
    public var capabilities: BackendCapabilities
    public var activationLayout: ActivationLayout
    /// Inputs per output value up to which training recomputes a convolution's output in backward
    /// instead of keeping it for the batch norm after it (see `EngineContext.recomputesOutput(fanIn:)`). 0 keeps
    /// every output; `Int.max` recomputes all.
    public var recomputeFanIn: Int
    /// Whether inference 3x3 convolutions may take the Winograd path.
    public var winograd: Bool
    /// At most this many bytes of freed buffers are kept for reuse; 0 turns pooling off.
    public var poolLimitBytes: Int

    public init(backend: BackendKind = .cpu, capabilities: BackendCapabilities = .all,
                activationLayout: ActivationLayout = .blocked, recomputeFanIn: Int = 128, winograd: Bool = true,
                poolLimitBytes: Int = EngineOptions.defaultPoolLimitBytes) {
        self.backend = backend
        self.capabilities = capabilities
        self.activationLayout = activationLayout
        self.recomputeFanIn = recomputeFanIn
        self.winograd = winograd
        self.poolLimitBytes = poolLimitBytes
    }

    /// A quarter of this machine's memory, at most 8 GB.
    public static let defaultPoolLimitBytes = Int(min(ProcessInfo.processInfo.physicalMemory / 4, 8 << 30))

    /// The built-in defaults with the process's `SWIFTRESNET_*` variables applied: what the default
    /// context runs with. Read once; a variable that does not parse is named on stderr.
    public static let `default` = EngineOptions(environment: ProcessInfo.processInfo.environment)

    /// The built-in defaults overridden by `SWIFTRESNET_LAYOUT`, `SWIFTRESNET_RECOMPUTE_FANIN`,
    /// `SWIFTRESNET_WINOGRAD` and `SWIFTRESNET_POOL_MB` in `environment`.
    public init(environment: [String: String], warn: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        let base = EngineOptions()
        func read<T>(_ name: String, _ fallback: T, _ text: String, _ expected: String, _ parse: (String) -> T?) -> T {
            EnvironmentSetting.read(name, fallback: fallback, fallbackText: text, expected: expected,
                                    environment: environment, warn: warn, parse: parse)
        }
        self.init(
            activationLayout: read("SWIFTRESNET_LAYOUT", base.activationLayout, "blocked", "nhwc, blocked, nchw8c or nchw16c") { value in
                switch value.lowercased() {
                case "nhwc": return .nhwc
                case "blocked", "": return .blocked
                case "nchw8c": return .nChw8c
                case "nchw16c": return .nChw16c
                default: return nil
                }
            },
            recomputeFanIn: read("SWIFTRESNET_RECOMPUTE_FANIN", base.recomputeFanIn, "128", "a count") { Int($0).flatMap { $0 >= 0 ? $0 : nil } },
            winograd: read("SWIFTRESNET_WINOGRAD", base.winograd, "1", "0 or 1") { ["0": false, "1": true][$0] },
            poolLimitBytes: read("SWIFTRESNET_POOL_MB", base.poolLimitBytes, "\(base.poolLimitBytes >> 20) MB", "a size in MB") {
                Int($0).map { max(0, $0) << 20 }
            })
    }
}
