import ResNetEngine

/// A 2-D convolution layer: `weight` OIHW (torchvision's `conv1.weight`), optional `bias`.
public final class Conv2D: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Padding
    public let dilation: Int
    /// Weights with the following batch norm folded in, for inference (see BatchNormFolding.swift).
    var foldCache: FoldCache?

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Padding = .valid,
                dilation: Int = 1, bias: Bool = false, initializer: Initializer = .heNormal(mode: .fanOut), seed: UInt64) {
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        weight = initializer.make([outChannels, inChannels, kernel, kernel], seed: seed)
        self.bias = bias ? Tensor(zeros: [outChannels]) : nil
        super.init()
        registerParameter("weight", weight)
        if let b = self.bias { registerParameter("bias", b) }
    }

    public var inChannels: Int { weight.shape[1] }
    public var outChannels: Int { weight.shape[0] }
    public var kernel: Int { weight.shape[2] }

    /// `relu(conv(x) + bias + residual)`, the add and ReLU fused into oneDNN's kernel when given.
    public func callAsFunction(_ x: Tensor, residual: Tensor? = nil, relu: Bool = false) -> Tensor {
        let y = conv2d(x, weight, bias: bias, stride: stride, padding: padding, dilation: dilation, residual: residual, relu: relu)
        if LayerTrace.isActive {
            let macs = y.count * inChannels * kernel * kernel
            LayerTrace.record(self, type: "Conv2D", inputs: [x] + (residual.map { [$0] } ?? []), output: y,
                              flops: 2 * macs + (bias != nil || residual != nil ? y.count : 0))
        }
        return y
    }
}
