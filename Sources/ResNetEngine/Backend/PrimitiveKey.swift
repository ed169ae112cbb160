import Foundation

/// What a cached oneDNN primitive (or a timed Swift kernel) is: its op and everything that shapes
/// it. The primitive cache is keyed by it, and the profiler, `resnet info` and tests read its
/// fields instead of parsing a string; `description` is only for display.
public struct PrimitiveKey: Hashable, Codable, Sendable, CustomStringConvertible {
    public enum Op: String, Codable, Sendable, CaseIterable {
        case convolution = "conv.fwd"
        /// The plain forward-training convolution oneDNN wants as the hint of the backward ones.
        case convolutionHint = "conv.fwd.hint"
        case convolutionBackwardData = "conv.bwd_data"
        case convolutionBackwardWeights = "conv.bwd_weights"
        case batchNorm = "bn.fwd"
        case batchNormBackward = "bn.bwd"
        case pooling = "pool.fwd"
        case poolingBackward = "pool.bwd"
        case innerProduct = "ip.fwd"
        case innerProductBackwardData = "ip.bwd_data"
        case innerProductBackwardWeights = "ip.bwd_weights"
        case eltwise = "eltwise.fwd"
        case reluBackward = "eltwise.bwd|relu"
        case binary
        case reorder
        /// A stage of the Swift-side Winograd convolution (named in `attributes`).
        case winograd

        /// The profiler's op kind.
        public var kind: Profiler.Kind {
            switch self {
            case .convolution, .convolutionHint, .convolutionBackwardData, .convolutionBackwardWeights, .winograd: return .convolution
            case .batchNorm, .batchNormBackward: return .batchNorm
            case .pooling, .poolingBackward: return .pooling
            case .innerProduct, .innerProductBackwardData, .innerProductBackwardWeights: return .innerProduct
            case .eltwise, .reluBackward, .binary: return .elementwise
            case .reorder: return .reorder
            }
        }

        /// Whether the op is backward work (else it is forward, or recompute while recomputing).
        public var isBackward: Bool {
            switch self {
            case .convolutionBackwardData, .convolutionBackwardWeights, .batchNormBackward, .poolingBackward,
                 .innerProductBackwardData, .innerProductBackwardWeights, .reluBackward: return true
            default: return false
            }
        }
    }

    public let op: Op
    /// The shapes that fix it: the activation's first, then the weights'.
    public let shapes: [[Int]]
    let layout: MemoryLayout4D?
    public let geometry: WindowGeometry?
    /// A forward op's propagation kind, where it makes another kernel (inference may take Winograd).
    public let propagation: Propagation?
    /// The remaining settings, as shown ("b1", "relu0", an epsilon, a oneDNN algorithm number).
    public let attributes: [String]
    /// A reorder's source and destination descriptors, byte for byte (not encoded).
    let descriptors: [Data]

    init(_ op: Op, _ shapes: [[Int]], layout: MemoryLayout4D? = nil, geometry: WindowGeometry? = nil, propagation: Propagation? = nil,
         _ attributes: [String] = [], descriptors: [Data] = []) {
        self.op = op; self.shapes = shapes; self.layout = layout; self.geometry = geometry; self.propagation = propagation
        self.attributes = attributes; self.descriptors = descriptors
    }

    private enum CodingKeys: String, CodingKey { case op, shapes, layout, geometry, propagation, attributes }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(try c.decode(Op.self, forKey: .op), try c.decode([[Int]].self, forKey: .shapes),
                  layout: try c.decodeIfPresent(MemoryLayout4D.self, forKey: .layout),
                  geometry: try c.decodeIfPresent(WindowGeometry.self, forKey: .geometry),
                  propagation: try c.decodeIfPresent(Propagation.self, forKey: .propagation),
                  try c.decode([String].self, forKey: .attributes))
    }

    /// "conv.fwd|[2, 56, 56, 64]|[64, 64, 3, 3]|nChw8c|56x56|k3x3|...|inference": op, shapes, layout,
    /// window, settings, propagation.
    public var description: String {
        if op == .reorder { return "reorder " + (shapes.first ?? []).map(String.init).joined(separator: "x") }
        let parts = [op.rawValue] + shapes.map { "\($0)" } + [layout.map(\.rawValue), geometry.map(\.description)].compactMap { $0 } + attributes
            + [propagation?.rawValue].compactMap { $0 }
        return parts.joined(separator: "|")
    }

    /// The activation layout the primitive reads and writes, as oneDNN names it ("nChw16c"), if it has one.
    public var layoutName: String? { layout?.rawValue }
}

extension MemoryLayout4D: Codable {}
