/// The fused forms of `ComputeBackend` ops a backend offers besides its core ops. Each is an
/// optimisation only: an op whose backend lacks one runs the same computation as separate core ops
/// (`Ops/Fusions.swift`), so a new backend can start with none and still run every model.
public struct BackendCapabilities: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// `PostOp.add` on a convolution: the residual added before the output is stored.
    public static let convolutionAdd = BackendCapabilities(rawValue: 1 << 0)
    /// `PostOp.relu` on a convolution (after the add, when there is one).
    public static let convolutionReLU = BackendCapabilities(rawValue: 1 << 1)
    /// `BatchNormAttributes.fusedReLU`: the ReLU inside the batch norm, backward through a workspace mask.
    public static let batchNormReLU = BackendCapabilities(rawValue: 1 << 2)
    /// `ComputeBackend.addReLU`: relu(a + b) in one pass.
    public static let addReLU = BackendCapabilities(rawValue: 1 << 3)

    public static let all: BackendCapabilities = [.convolutionAdd, .convolutionReLU, .batchNormReLU, .addReLU]

    public var description: String {
        let names: [(BackendCapabilities, String)] = [(.convolutionAdd, "conv+add"), (.convolutionReLU, "conv+relu"),
                                                      (.batchNormReLU, "bn+relu"), (.addReLU, "add+relu")]
        return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ", ") + "]"
    }
}
