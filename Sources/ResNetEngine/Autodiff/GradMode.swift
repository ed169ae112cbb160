/// Whether ops record themselves for backward. Inference runs with recording off, so nothing is
/// kept alive after an op returns. Task-local: turning it off on one thread leaves the others recording.
public enum GradMode {
    @TaskLocal public static var isEnabled = true

    /// Runs `body` with recording off (PyTorch's `torch.no_grad()`).
    public static func withoutGradient<T>(_ body: () throws -> T) rethrows -> T {
        try $isEnabled.withValue(false, operation: body)
    }
}
