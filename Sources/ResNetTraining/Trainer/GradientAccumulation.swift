import ResNetEngine

/// Gradient accumulation (`--accumulate K`): K micro-batches, one optimizer step, so K batches of B
/// train like one batch of K*B where memory holds only B (the large-batch equivalence of Goyal et
/// al. 2017, "Accurate, Large Minibatch SGD", with batch norm still per micro-batch).
///
/// Each micro-batch's mean loss is back-propagated weighted by its image count, and before the step
/// the summed gradients are divided by the group's images: the step sees the mean over every image
/// of the group, exactly, whatever the micro-batch sizes (a short last batch, skipped images).
struct GradientAccumulation {
    /// Micro-batches per optimizer step.
    let microBatches: Int
    /// Micro-batches and images since the last step.
    private(set) var pending = 0
    private(set) var images = 0

    init(microBatches: Int) {
        precondition(microBatches >= 1, "accumulate at least one micro-batch")
        self.microBatches = microBatches
    }

    /// Back-propagates `loss` (the mean over `count` images) into the parameters' gradients.
    /// `whenFinal` sees each parameter whose gradient is complete for the step, in the group's last
    /// micro-batch only (earlier ones still add to every gradient).
    mutating func backward(_ loss: Tensor, count: Int, whenFinal: ((Tensor) -> Void)? = nil) {
        // Without accumulation, exactly the plain backward (so runs without the option are unchanged).
        loss.backward(seed: microBatches == 1 ? nil : Tensor(scalar: Float(count)), whenFinal: pending + 1 == microBatches ? whenFinal : nil)
        pending += 1
        images += count
    }

    /// Whether the group is complete (the last, shorter group of an epoch is closed by `finish`).
    var isComplete: Bool { pending >= microBatches }

    /// Turns the summed gradients into the group's mean and starts a new group; call before the step.
    mutating func finish(_ parameters: [(name: String, tensor: Tensor)]) {
        if microBatches > 1 && images > 0 { GradientArithmetic.scale(parameters, by: 1 / Float(images)) }
        pending = 0
        images = 0
    }
}
