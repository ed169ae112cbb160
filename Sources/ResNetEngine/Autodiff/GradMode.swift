/// Whether ops record themselves for backward. Inference runs with recording off, so nothing is
/// kept alive after an op returns.
public enum GradMode {
    nonisolated(unsafe) public internal(set) static var isEnabled = true

    /// Runs `body` with recording off (PyTorch's `torch.no_grad()`).
    public static func withoutGradient<T>(_ body: () throws -> T) rethrows -> T {
        let previous = isEnabled
        isEnabled = false
        defer { isEnabled = previous }
        return try body()
    }
}
