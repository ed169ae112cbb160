import Foundation

/// `--time-budget MINUTES`: the run's length in wall time instead of epochs. The first epoch is
/// timed (training, validation and all), then the epoch count is the largest that, with the
/// final test, fits in the budget; bare schedules (cosine, linear, onecycle) are then shaped to it.
public struct TimeBudget: Equatable, Sendable {
    public var minutes: Double

    public init(minutes: Double) { self.minutes = minutes }

    /// Epochs that fit when each takes `epochSeconds` and the test after the last one about
    /// `testSeconds`: at least `minimum` (one, or the warmup's length) even when none fits, at
    /// most `TrainingSettings.maxEpochs`.
    public func epochs(epochSeconds: Double, testSeconds: Double, minimum: Int = 1) -> Int {
        let available = minutes * 60 - max(testSeconds, 0)
        let fitting = epochSeconds > 0 ? (available / epochSeconds).rounded(.down) : .infinity
        let cap = Double(TrainingSettings.maxEpochs)
        return max(minimum, Int(min(max(fitting, 0), cap)))
    }

    /// Seconds on a monotonic clock, what the trainer times the first epoch with unless a test injects another.
    public static func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
