/// What metrics need of one row of [N, K] logits (`ComputeBackend.classify`): a few integers
/// instead of the K values, so the logits never have to leave the backend.
public struct ClassificationOutcome: Equatable, Sendable {
    /// The arg-max class, the lowest index on ties (as `torch.argmax`); nil when a logit is NaN.
    public var predicted: Int?
    /// How many logits are strictly greater than the true class's: the sample is top-k correct when below k
    /// (0 for an invalid row).
    public var greaterThanTruth: Int

    public init(predicted: Int?, greaterThanTruth: Int) {
        self.predicted = predicted
        self.greaterThanTruth = greaterThanTruth
    }
}
