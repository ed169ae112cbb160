import ResNetEngine

/// Batch normalization over channels (Ioffe & Szegedy 2015) with torchvision's names: `weight`
/// (gamma), `bias` (beta), `running_mean`, `running_var`, `num_batches_tracked`.
public final class BatchNorm2D: Module {
    public let weight: Tensor?
    public let bias: Tensor
    public let runningMean: Tensor
    public let runningVar: Tensor
    public let numBatchesTracked: Tensor
    /// PyTorch's momentum: the weight of the new batch in the running statistics (TF's decay = 1 - momentum).
    public var momentum: Float
    public let epsilon: Float
    /// A frozen layer normalizes with its running statistics even in training mode and learns nothing:
    /// the fine-tuning behaviour Keras users expect from `trainable = False`.
    public private(set) var isFrozen = false
    /// `--sync-bn`: the other processes of a data-parallel run, whose batches join this layer's batch
    /// statistics in training (nil: this process's batch alone).
    public var crossProcess: (any CrossProcessSum)?

    public init(_ channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5, scale: Bool = true) {
        self.momentum = momentum
        self.epsilon = epsilon
        weight = scale ? Tensor(repeating: 1, shape: [channels]) : nil
        bias = Tensor(zeros: [channels])
        runningMean = Tensor(zeros: [channels])
        runningVar = Tensor(repeating: 1, shape: [channels])
        numBatchesTracked = Tensor(zeros: [])
        super.init()
        if let weight { registerParameter("weight", weight) }
        registerParameter("bias", bias)
        registerBuffer("running_mean", runningMean)
        registerBuffer("running_var", runningVar)
        registerBuffer("num_batches_tracked", numBatchesTracked)
    }

    public var channels: Int { bias.count }

    public func freeze(_ frozen: Bool = true) {
        isFrozen = frozen
        weight?.requiresGrad = !frozen
        bias.requiresGrad = !frozen
    }

    /// True while normalizing with the batch's own statistics (training mode, not frozen).
    public var usesBatchStatistics: Bool { isTraining && !isFrozen }

    /// Normalizes `x`, followed by a fused ReLU when `relu` is set (one memory pass instead of two).
    public func callAsFunction(_ x: Tensor, relu: Bool = false) -> Tensor {
        let training = usesBatchStatistics
        let statistics = BatchNormStatistics(mean: runningMean, variance: runningVar)
        let y = if training, let crossProcess {
            syncBatchNorm(x, scale: weight, shift: bias, statistics: statistics, momentum: momentum, epsilon: epsilon, relu: relu,
                          across: crossProcess)
        } else {
            batchNorm(x, scale: weight, shift: bias, statistics: statistics, training: training, momentum: momentum, epsilon: epsilon, relu: relu)
        }
        if training { numBatchesTracked.withMutableHostValues { $0[0] += 1 } }
        if LayerTrace.isActive { LayerTrace.record(self, type: relu ? "BatchNorm+ReLU" : "BatchNormalization",
                                                   operation: .batchNorm(epsilon: epsilon, relu: relu), inputs: [x], output: y, flops: 2 * y.count) }
        return y
    }
}
