import ResNetEngine

/// A 2-D convolution layer: `weight` OIHW (torchvision's `conv1.weight`), optional `bias`.
/// With `groups` > 1 the weight is [O, I/groups, KH, KW], torchvision's layout for ResNeXt's
/// grouped 3x3 (Xie et al. 2017): each group of I/groups inputs feeds only its O/groups outputs.
public final class Conv2D: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Padding
    public let dilation: Int
    public let groups: Int
    /// Weights with the following batch norm folded in, for inference (see BatchNormFolding.swift).
    var foldCache: FoldCache?

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Padding = .valid,
                dilation: Int = 1, groups: Int = 1, bias: Bool = false, initializer: Initializer = .heNormal(mode: .fanOut), seed: UInt64) {
        precondition(groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0,
                     "Conv2D's \(inChannels) input and \(outChannels) output channels must split into \(groups) groups")
        self.stride = stride
        self.groups = groups
        self.padding = padding
        self.dilation = dilation
        weight = initializer.make([outChannels, inChannels / groups, kernel, kernel], seed: seed)
        self.bias = bias ? Tensor(zeros: [outChannels]) : nil
        super.init()
        registerParameter("weight", weight)
        if let b = self.bias { registerParameter("bias", b) }
    }

    public var inChannels: Int { weight.shape[1] * groups }
    /// Inputs each output sees: the weight's dim 1, the input channels over `groups`.
    public var inChannelsPerGroup: Int { weight.shape[1] }
    public var outChannels: Int { weight.shape[0] }
    public var kernel: Int { weight.shape[2] }

    /// `relu(conv(x) + bias + residual)`, the add and ReLU fused into oneDNN's kernel when given.
    public func callAsFunction(_ x: Tensor, residual: Tensor? = nil, relu: Bool = false) -> Tensor {
        let y = conv2d(x, weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups,
                       residual: residual, relu: relu)
        if LayerTrace.isActive {
            let macs = y.count * inChannelsPerGroup * kernel * kernel   // a grouped convolution does 1/groups of them
            LayerTrace.record(self, type: "Conv2D",
                              operation: .convolution(kernel: kernel, stride: stride, padding: padding, dilation: dilation, groups: groups, relu: relu),
                              inputs: [x] + (residual.map { [$0] } ?? []), output: y,
                              flops: 2 * macs + (bias != nil || residual != nil ? y.count : 0))
        }
        return y
    }
}
