import Foundation
import ResNetEngine

/// Weight initialisation schemes.
public enum Initializer: Sendable {
    /// He et al. 2015 ("Delving deep into rectifiers"): normal with std = sqrt(2 / fan), the
    /// variance-scaling the seed's TF-slim scope uses (fan in) and torchvision's ResNet (fan out).
    case heNormal(mode: FanMode)
    /// PyTorch's default for `nn.Linear`: uniform in ±1/sqrt(fan_in).
    case linearDefault
    case zeros
    case ones

    public enum FanMode: String, Sendable { case fanIn, fanOut }

    /// A tensor of `shape` (OIHW or [out, in]) drawn from this scheme with an explicit seed.
    public func make(_ shape: [Int], seed: UInt64) -> Tensor {
        let receptive = shape.dropFirst(2).reduce(1, *)
        let fanIn = (shape.count > 1 ? shape[1] : shape[0]) * receptive
        let fanOut = shape[0] * receptive
        switch self {
        case .heNormal(let mode):
            let fan = mode == .fanIn ? fanIn : fanOut
            return Tensor.randomNormal(shape, std: sqrtf(2 / Float(max(fan, 1))), seed: seed)
        case .linearDefault:
            let bound = 1 / sqrtf(Float(max(fanIn, 1)))
            return Tensor.randomUniform(shape, low: -bound, high: bound, seed: seed)
        case .zeros: return Tensor(zeros: shape)
        case .ones: return Tensor(repeating: 1, shape: shape)
        }
    }
}

/// Hands out distinct, reproducible seeds to the layers of one model.
public struct SeedSequence {
    private var generator: SeededGenerator
    public init(_ seed: UInt64) { generator = SeededGenerator(seed: seed) }
    public mutating func next() -> UInt64 { generator.next() }
}
