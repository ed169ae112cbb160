import Foundation

/// How close the reference backend's inputs came to a branch point: a ReLU input's distance from 0,
/// and a max-pool window's gap between its largest input and the runner-up, each relative to the
/// largest |value| of the tensor. Another backend computing in float32 can land on the other side
/// of such a point and move a whole gradient element (a mask bit, a routed max), which a comparison
/// must not mistake for a bug; a comparison is sound when this margin exceeds float32's error.
/// Exact ties (ReLU's zeros meeting in a window) break the same way on every backend and are skipped.
public final class ReferenceKinkMargin: @unchecked Sendable {
    private let lock = NSLock()
    private var smallest = Double.infinity

    /// The smallest relative margin recorded since the backend was made or `reset()`; infinity when none.
    public var value: Double { lock.withLock { smallest } }

    public func reset() { lock.withLock { smallest = .infinity } }

    /// Records the distance of each `points[i]` from its branch point, relative to `scale`.
    func record(_ distances: UnsafeBufferPointer<Double>, scale: Double) {
        guard scale > 0 else { return }
        var least = Double.infinity
        for d in distances where d > 0 { least = min(least, d) }
        guard least.isFinite else { return }
        lock.withLock { smallest = min(smallest, least / scale) }
    }
}
