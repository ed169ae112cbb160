import Foundation

/// The models one server serves, by name, in the order given on the command line. Each is loaded
/// on its own batch thread with its own engine context.
public final class ModelRegistry: Sendable {
    public let models: [ServedModel]

    /// Loads every model in `specs` (in order; the first failure stops). Names must be unique.
    public init(specs: [ModelSpec], options: ServeOptions, metrics: ServeMetrics) throws {
        guard !specs.isEmpty else { throw ServeSetupError.invalidOption(option: "--checkpoint", message: "give at least one model to serve") }
        var seen = Set<String>()
        for spec in specs where !seen.insert(spec.name).inserted {
            throw ServeSetupError.invalidOption(option: "--checkpoint",
                message: "two models are named '\(spec.name)'; name them apart with --checkpoint NAME=RUN")
        }
        var loaded: [ServedModel] = []
        for spec in specs {
            loaded.append(try ServedModel(spec: spec, options: options, observer: metrics.observer(model: spec.name)))
            metrics.setQueueDepth(model: spec.name, depth: 0)
        }
        models = loaded
    }

    public func model(named name: String) -> ServedModel? { models.first { $0.name == name } }

    /// Makes every batcher run what it has at once: a shutdown has begun and no more requests come.
    public func flush() {
        for model in models { model.batcher.flush() }
    }

    /// Drains every model's batcher (answers what is queued) and ends its thread.
    public func shutdown() {
        for model in models { model.batcher.shutdown() }
    }
}
