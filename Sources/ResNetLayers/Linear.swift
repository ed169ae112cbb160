import ResNetEngine

/// A fully connected layer: `weight` [out, in] and `bias` [out], as torchvision's `fc`.
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, initializer: Initializer = .linearDefault, seed: UInt64) {
        weight = initializer.make([outFeatures, inFeatures], seed: seed)
        // PyTorch's default bias init: uniform in ±1/sqrt(fan_in).
        let bound = 1 / Float(inFeatures).squareRoot()
        self.bias = bias ? Tensor.randomUniform([outFeatures], low: -bound, high: bound, seed: seed &+ 1) : nil
        super.init()
        registerParameter("weight", weight)
        if let b = self.bias { registerParameter("bias", b) }
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = linear(x.rank == 2 ? x : flatten(x), weight, bias: bias)
        if LayerTrace.isActive { LayerTrace.record(self, type: "Dense", operation: .dense, inputs: [x], output: y, flops: 2 * y.count * inFeatures) }
        return y
    }
}
