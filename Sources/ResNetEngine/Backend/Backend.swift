/// The narrow interface through which every op reaches the hardware. Layers and models only call
/// ops; ops only call this protocol. A CUDA backend (cuDNN/cuBLAS) would implement it again.
///
/// Conventions: activations NHWC, convolution weights OIHW, dense weights [out, in]; every method
/// returns new tensors (no in-place updates) unless its name says `InPlace` or `Update` (optimizer
/// steps and running statistics change their first operands and move their versions).
/// A grouped convolution's weights are [O, I/groups, KH, KW]: the backend reads groups off the shapes.
///
/// The fused forms (convolution post-ops, batch norm with ReLU, `addReLU`) are optional: a backend
/// takes them only when `capabilities` says so, and ops compose the core ops otherwise.
public protocol ComputeBackend: AnyObject {
    var device: Device { get }
    /// The fused forms ops may hand this backend; the others they never pass.
    var capabilities: BackendCapabilities { get }

    // MARK: Convolution (fused bias; residual add and ReLU as post-ops)
    func convolution(_ x: Tensor, weight: Tensor, bias: Tensor?, attributes: ConvolutionAttributes) -> Tensor
    func convolutionBackwardData(_ dy: Tensor, weight: Tensor, geometry: WindowGeometry, inputShape: [Int]) -> Tensor
    func convolutionBackwardWeights(_ dy: Tensor, input x: Tensor, geometry: WindowGeometry,
                                    weightShape: [Int], withBias: Bool) -> (weight: Tensor, bias: Tensor?)

    // MARK: Batch normalization (per channel, NHWC), optionally fused with ReLU
    /// Returns y, the batch mean and the biased batch variance, and the ReLU workspace if fused.
    func batchNormTraining(_ x: Tensor, scale: Tensor?, shift: Tensor, attributes: BatchNormAttributes)
        -> (y: Tensor, mean: Tensor, variance: Tensor, workspace: Storage?)
    func batchNormInference(_ x: Tensor, scale: Tensor?, shift: Tensor, mean: Tensor, variance: Tensor,
                            attributes: BatchNormAttributes) -> Tensor
    func batchNormBackward(_ dy: Tensor, input x: Tensor, scale: Tensor?, mean: Tensor, variance: Tensor,
                           attributes: BatchNormAttributes, workspace: Storage?, statistics: NormalizationStatistics)
        -> (dx: Tensor, dscale: Tensor?, dshift: Tensor)

    // MARK: Pooling
    func pool(_ x: Tensor, kind: PoolKind, geometry: WindowGeometry, training: Bool) -> (y: Tensor, workspace: Storage?)
    func poolBackward(_ dy: Tensor, kind: PoolKind, geometry: WindowGeometry, inputShape: [Int], workspace: Storage?) -> Tensor

    // MARK: Inner product
    func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor
    func linearBackwardData(_ dy: Tensor, weight: Tensor) -> Tensor
    func linearBackwardWeights(_ dy: Tensor, input x: Tensor, withBias: Bool) -> (weight: Tensor, bias: Tensor?)

    // MARK: Elementwise
    func relu(_ x: Tensor) -> Tensor
    /// dy where the saved ReLU output y is positive, else 0.
    func reluBackward(_ dy: Tensor, output y: Tensor) -> Tensor
    func add(_ a: Tensor, _ b: Tensor) -> Tensor
    /// relu(a + b) in one pass: the end of a v1 residual unit (only with `.addReLU` in `capabilities`).
    func addReLU(_ a: Tensor, _ b: Tensor) -> Tensor
    func addInPlace(_ a: Tensor, _ b: Tensor)
    func scale(_ x: Tensor, by alpha: Float) -> Tensor
    func multiply(_ a: Tensor, _ b: Tensor) -> Tensor

    // MARK: Small Swift-side kernels
    /// Shortcut option A: zero-pads channels to `channels` and subsamples space by `stride`.
    func padChannelsSubsample(_ x: Tensor, channels: Int, stride: Int) -> Tensor
    func padChannelsSubsampleBackward(_ dy: Tensor, inputShape: [Int], stride: Int) -> Tensor
    /// Softmax over the last axis of [N, K].
    func softmax(_ logits: Tensor) -> Tensor
    /// Mean cross-entropy of [N, K] logits against [N, K] target distributions, and d(loss)/d(logits).
    func softmaxCrossEntropy(_ logits: Tensor, targets: Tensor) -> (loss: Float, gradient: Tensor)
    func sum(_ x: Tensor) -> Float

    // MARK: Loss, dropout and metrics
    /// dx = p·(dy - Σ_row dy·p), the softmax's gradient from its saved output p, per row of [N, K].
    func softmaxBackward(_ dy: Tensor, output p: Tensor) -> Tensor
    /// [N, K] targets: (1 - smoothing) on each sample's label plus smoothing / K everywhere (Szegedy et al. 2016).
    func labelTargets(_ labels: LabelTensor, classes: Int, smoothing: Float) -> Tensor
    /// Target distributions mixed with the uniform one: t·(1 - smoothing) + smoothing / K.
    func smoothTargets(_ targets: Tensor, smoothing: Float) -> Tensor
    /// Inverted-dropout mask: 0 with probability `rate`, else 1 / (1 - rate), drawn in order from `seed`.
    func dropoutMask(shape: [Int], rate: Float, seed: UInt64) -> Tensor
    /// Arg-max and the true class's rank for each row of [N, K] logits (for accuracy and top-k).
    func classify(_ logits: Tensor, labels: [Int32]) -> [ClassificationOutcome]

    // MARK: Batch-norm statistics and folding
    /// running = (1 - momentum)·running + momentum·batch, in place; the batch variance (biased, over
    /// `count` values per channel) is made unbiased first, as `torch.nn.BatchNorm2d` does.
    func updateRunningStatistics(mean: Tensor, variance: Tensor, batchMean: Tensor, batchVariance: Tensor,
                                 momentum: Float, count: Int)
    /// A batch norm with fixed statistics folded into the convolution before it: w' = w·s,
    /// b' = shift + (b - mean)·s per output channel, with s = scale / sqrt(variance + epsilon).
    func foldBatchNorm(weight: Tensor, bias: Tensor?, scale: Tensor?, shift: Tensor, mean: Tensor, variance: Tensor,
                       epsilon: Float) -> (weight: Tensor, bias: Tensor)

    // MARK: Optimizer updates and in-place arithmetic (the first operand changes, its version moves)
    /// One SGD step on `parameter` (and its momentum buffer, required when momentum is not 0).
    func sgdUpdate(_ parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor?, attributes: SGDAttributes)
    /// One Adam/AdamW step on `parameter` and its two moment buffers.
    func adamUpdate(_ parameter: Tensor, gradient: Tensor, expAvg: Tensor, expAvgSq: Tensor, attributes: AdamAttributes)
    /// y = alpha·y + beta·x (weight averaging, L2 gradients).
    func axpbyInPlace(_ y: Tensor, alpha: Float, _ x: Tensor, beta: Float)
    /// x = alpha·x.
    func scaleInPlace(_ x: Tensor, by alpha: Float)
    /// Σ x² over every tensor, accumulated in Double in order (tensor by tensor, element by element),
    /// so the result does not depend on the thread count.
    func sumOfSquares(_ tensors: [Tensor]) -> Double

}

/// The backend ops use: the current engine context's (`EngineOptions.backend` chose it).
public enum Backend {
    public static var current: ComputeBackend { EngineContext.current.backend }
}
