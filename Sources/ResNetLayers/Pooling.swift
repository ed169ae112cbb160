import ResNetEngine

/// Max pooling (the ResNet stem's 3x3/2) as a module, so it shows up in summaries and graphs.
public final class MaxPool2D: Module {
    public let kernel: Int, stride: Int
    public let padding: Padding

    public init(kernel: Int, stride: Int, padding: Padding = .valid) {
        self.kernel = kernel; self.stride = stride; self.padding = padding
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = maxPool2d(x, kernel: kernel, stride: stride, padding: padding)
        if LayerTrace.isActive { LayerTrace.record(self, type: "MaxPooling2D", operation: .maxPool(kernel: kernel, stride: stride, padding: padding), inputs: [x], output: y, flops: y.count * kernel * kernel) }
        return y
    }
}

/// Global average pooling, NHWC to [N, C].
public final class GlobalAvgPool2D: Module {
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = globalAvgPool(x)
        if LayerTrace.isActive { LayerTrace.record(self, type: "GlobalAveragePooling2D", operation: .globalAveragePool, inputs: [x], output: y, flops: x.count) }
        return y
    }
}
