import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// `resnet serve`: loads the models, then serves HTTP until SIGTERM/SIGINT (or `shutdown()`), when
/// it stops accepting connections, answers every request already in, drains the batchers and returns.
public final class InferenceServer: Sendable {
    public let options: ServeOptions
    public let registry: ModelRegistry
    public let metrics: ServeMetrics
    private let group = LockedBox<ServiceGroup?>(nil)
    private let stopRequested = LockedBox(false)

    /// Validates `options` first, then loads every model (minutes for large ones; nothing listens yet).
    public init(models: [ModelSpec], options: ServeOptions) throws {
        try options.validate()
        self.options = options
        metrics = ServeMetrics(maxBatch: options.maxBatch)
        registry = try ModelRegistry(specs: models, options: options, metrics: metrics)
    }

    /// Serves until shut down. `onListening` gets the bound port (the one chosen when `options.port`
    /// is 0). With `handleSignals`, SIGTERM and SIGINT start the graceful shutdown.
    public func run(handleSignals: Bool = true, logLevel: Logger.Level = .info,
                    onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var logger = Logger(label: "resnet-serve")
        logger.logLevel = logLevel
        let routes = Routes(registry: registry, options: options, metrics: metrics, decodePool: DecodePool())
        let app = Application(
            router: routes.router(),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "resnet-serve"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        // A group shuts its services down last to first: the batchers stop waiting for fuller batches
        // before the HTTP server waits for its in-flight requests (which wait on those batches).
        let serviceGroup = ServiceGroup(configuration: .init(
            services: [app, FlushOnShutdown(registry: registry)], gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [], logger: logger))
        group.set(serviceGroup)
        if stopRequested.get() { await serviceGroup.triggerGracefulShutdown() }
        defer { drainBatchers() }
        try await serviceGroup.run()
    }

    /// Starts the graceful shutdown a signal would: `run` returns once in-flight requests are answered.
    public func shutdown() async {
        stopRequested.set(true)
        await group.get()?.triggerGracefulShutdown()
    }

    private func drainBatchers() {
        registry.shutdown()
    }
}

/// Waits for the graceful shutdown, then flushes the batchers (see `run`).
private struct FlushOnShutdown: Service {
    let registry: ModelRegistry

    func run() async throws {
        try? await gracefulShutdown()
        registry.flush()
    }
}
