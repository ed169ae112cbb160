/// The running statistics a batch-norm layer keeps for inference, updated in place in training.
public struct BatchNormStatistics {
    public let mean: Tensor
    public let variance: Tensor
    public init(mean: Tensor, variance: Tensor) { self.mean = mean; self.variance = variance }
}

/// Batch normalization over the channels of an NHWC tensor, with the ReLU after it fused when asked
/// (a separate op on a backend without that fusion).
///
/// In training, batch statistics normalize and the running ones move by `momentum` (PyTorch's
/// convention: running = (1 - momentum) * running + momentum * batch, with the unbiased batch
/// variance; TF-slim's decay 0.997 is momentum 0.003). Otherwise the running statistics are used,
/// and gradients still flow through (a frozen BN while fine-tuning).
public func batchNorm(_ x: Tensor, scale: Tensor?, shift: Tensor, statistics: BatchNormStatistics, training: Bool,
                      momentum: Float = 0.1, epsilon: Float = 1e-5, relu: Bool = false) -> Tensor {
    precondition(x.rank == 4, "batchNorm wants an NHWC input, got shape \(x.shape)")
    let backend = Backend.current
    if relu && !backend.capabilities.contains(.batchNormReLU) {   // the ReLU as its own op, saving its output
        return ResNetEngine.relu(batchNorm(x, scale: scale, shift: shift, statistics: statistics, training: training,
                                           momentum: momentum, epsilon: epsilon))
    }
    let inputs: [(role: BatchNormInput, tensor: Tensor?)] = [(.input, x), (.shift, shift), (.scale, scale)]
    let recording = GradMode.isEnabled && inputs.contains { $0.tensor?.needsGradient ?? false }
    let xs = x.detached(), scaleSaved = scale?.detached()
    let attributes = BatchNormAttributes(epsilon: epsilon, fusedReLU: relu)

    if training {
        let (y, mean, variance, workspace) = backend.batchNormTraining(x, scale: scale, shift: shift, attributes: attributes)
        updateRunning(statistics, mean: mean, variance: variance, momentum: momentum, count: x.count / x.shape[3])
        guard recording else { return y }
        return record("batchNorm", roles: inputs, y) { dy in
            let (dx, dscale, dshift) = backend.batchNormBackward(dy, input: xs, scale: scaleSaved, mean: mean, variance: variance,
                                                                attributes: attributes, workspace: workspace, statistics: .batch)
            return BatchNormInput.gradients(dx, dshift, dscale)
        }
    }
    let (mean, variance) = (statistics.mean.detached(), statistics.variance.detached())
    let normalized = backend.batchNormInference(x, scale: scale, shift: shift, mean: mean, variance: variance,
                                                attributes: BatchNormAttributes(epsilon: epsilon, fusedReLU: relu && !recording))
    guard recording else { return normalized }
    let y = record("batchNorm(frozen)", roles: inputs, normalized) { dy in
        let (dx, dscale, dshift) = backend.batchNormBackward(dy, input: xs, scale: scaleSaved, mean: mean, variance: variance,
                                                            attributes: BatchNormAttributes(epsilon: epsilon), workspace: nil, statistics: .running)
        return BatchNormInput.gradients(dx, dshift, dscale)
    }
    return relu ? ResNetEngine.relu(y) : y
}

/// The inputs of a batch norm, by role (the scale is optional).
enum BatchNormInput: Hashable {
    case input, shift, scale

    static func gradients(_ dx: Tensor, _ dshift: Tensor, _ dscale: Tensor?) -> InputGradients<BatchNormInput> {
        var g = InputGradients<BatchNormInput>()
        g[.input] = dx
        g[.shift] = dshift
        g[.scale] = dscale
        return g
    }
}

/// running = (1 - m) * running + m * batch; the batch variance made unbiased as PyTorch does.
func updateRunning(_ s: BatchNormStatistics, mean: Tensor, variance: Tensor, momentum m: Float, count n: Int) {
    Backend.current.updateRunningStatistics(mean: s.mean, variance: s.variance, batchMean: mean, batchVariance: variance,
                                            momentum: m, count: n)
}
