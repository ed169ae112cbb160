import Foundation

/// A request to stop training at the next step boundary (Ctrl-C, SIGTERM): set from any thread,
/// polled by the trainer after each optimizer step, so a step is finished or abandoned whole and
/// the last committed checkpoint is never touched.
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var reason: String?

    public init() {}

    /// Asks the trainer to stop; the first reason given is kept.
    public func request(_ why: String) {
        lock.lock(); defer { lock.unlock() }
        if reason == nil { reason = why }
    }

    /// Why a stop was requested, or nil.
    public var requested: String? {
        lock.lock(); defer { lock.unlock() }
        return reason
    }
}
