/// Max pooling over NHWC windows (the ResNet stem's 3x3/2, and the seed's 1x1/s subsample).
public func maxPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Padding = .valid) -> Tensor {
    pool2d(x, kind: .max, kernel: kernel, stride: stride, padding: padding)
}

/// Average pooling; `countIncludePad` counts padded zeros in the mean (PyTorch's default is true).
public func avgPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Padding = .valid, countIncludePad: Bool = true) -> Tensor {
    pool2d(x, kind: countIncludePad ? .averageIncludePadding : .averageExcludePadding, kernel: kernel, stride: stride, padding: padding)
}

/// Global average pooling: NHWC [N, H, W, C] to [N, C] (the head of every ResNet).
public func globalAvgPool(_ x: Tensor) -> Tensor {
    let pooled = pool2d(x, kind: .averageIncludePadding, kernelH: x.shape[1], kernelW: x.shape[2], stride: 1, padding: .valid)
    return reshape(pooled, [x.shape[0], x.shape[3]])
}

func pool2d(_ x: Tensor, kind: PoolKind, kernel: Int, stride: Int, padding: Padding) -> Tensor {
    pool2d(x, kind: kind, kernelH: kernel, kernelW: kernel, stride: stride, padding: padding)
}

func pool2d(_ x: Tensor, kind: PoolKind, kernelH: Int, kernelW: Int, stride: Int, padding: Padding) -> Tensor {
    precondition(x.rank == 4, "pooling wants an NHWC input, got shape \(x.shape)")
    let g = WindowGeometry(inputH: x.shape[1], inputW: x.shape[2], kernelH: kernelH, kernelW: kernelW,
                           stride: (stride, stride), padding: padding)
    let backend = Backend.current
    let recording = GradMode.isEnabled && x.needsGradient
    let (y, workspace) = backend.pool(x, kind: kind, geometry: g, training: recording)
    let inputShape = x.shape
    return record("pool2d(\(kind))", [x], y) { dy in
        [backend.poolBackward(dy, kind: kind, geometry: g, inputShape: inputShape, workspace: workspace)]
    }
}
