/// The narrow interface through which every op reaches the hardware. Layers and models only call
/// ops; ops only call this protocol. A CUDA backend (cuDNN/cuBLAS) would implement it again.
///
/// Conventions: activations NHWC, convolution weights OIHW, dense weights [out, in]; every method
/// returns new tensors (no in-place updates) unless its name says `InPlace`.
/// A grouped convolution's weights are [O, I/groups, KH, KW]: the backend reads groups off the shapes.
public protocol ComputeBackend: AnyObject {
    var device: Device { get }

    // MARK: Convolution (fused bias, residual add and ReLU as post-ops)
    func convolution(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: WindowGeometry,
                     residual: Tensor?, relu: Bool, training: Bool) -> Tensor
    func convolutionBackwardData(_ dy: Tensor, weight: Tensor, geometry: WindowGeometry, inputShape: [Int]) -> Tensor
    func convolutionBackwardWeights(_ dy: Tensor, input x: Tensor, geometry: WindowGeometry,
                                    weightShape: [Int], withBias: Bool) -> (weight: Tensor, bias: Tensor?)

    // MARK: Batch normalization (per channel, NHWC), optionally fused with ReLU
    /// Returns y, the batch mean and the biased batch variance, and the ReLU workspace if fused.
    func batchNormTraining(_ x: Tensor, scale: Tensor?, shift: Tensor, epsilon: Float, relu: Bool)
        -> (y: Tensor, mean: Tensor, variance: Tensor, workspace: Storage?)
    func batchNormInference(_ x: Tensor, scale: Tensor?, shift: Tensor, mean: Tensor, variance: Tensor,
                            epsilon: Float, relu: Bool) -> Tensor
    func batchNormBackward(_ dy: Tensor, input x: Tensor, scale: Tensor?, mean: Tensor, variance: Tensor,
                           epsilon: Float, relu: Bool, workspace: Storage?, globalStatistics: Bool) -> (dx: Tensor, dscale: Tensor?, dshift: Tensor)

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
    /// relu(a + b) in one pass: the end of a v1 residual unit.
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
}

/// The backend ops use: the current engine context's. Only the CPU one exists.
public enum Backend {
    public static var current: ComputeBackend { EngineContext.current.backend }
}
