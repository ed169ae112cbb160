import Foundation
import Prometheus

/// The server's Prometheus metrics, in a registry of its own (no process-global metrics system):
/// requests by route and status, predict latency, batch sizes and queue depth per model.
public final class ServeMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    /// Request latency buckets in seconds: a cached small model answers in about a millisecond,
    /// a ResNet-50 batch of 32 on two cores takes seconds.
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    private let batchBuckets: [Double]

    public init(maxBatch: Int) {
        // Powers of two up to the largest batch, and the largest batch itself.
        var buckets: [Double] = []
        var b = 1
        while b < maxBatch { buckets.append(Double(b)); b *= 2 }
        buckets.append(Double(maxBatch))
        batchBuckets = buckets
    }

    private func name(_ metric: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "resnet", subsystem: "serve", metricName: metric, unitName: unit, helpText: help)
    }

    /// Counts one answered request (any route, any status).
    func recordRequest(route: String, status: Int) {
        registry.makeCounter(descriptor: name("requests", unit: "total", help: "HTTP requests answered, by route and status code."),
                             labels: [("route", route), ("status", String(status))]).increment()
    }

    /// Records one predict request's time from arrival to answer.
    func recordLatency(model: String, seconds: Double) {
        registry.makeValueHistogram(descriptor: name("request_duration", unit: "seconds", help: "Predict request latency, arrival to answer."),
                                    labels: [("model", model)], buckets: Self.latencyBuckets).record(seconds)
    }

    /// Records one batch run through `model`.
    func recordBatch(model: String, size: Int) {
        registry.makeValueHistogram(descriptor: name("batch_size", unit: "images", help: "Images per forward pass."),
                                    labels: [("model", model)], buckets: batchBuckets).record(Double(size))
        registry.makeCounter(descriptor: name("images", unit: "total", help: "Images classified."),
                             labels: [("model", model)]).increment(by: Int64(size))
    }

    /// Sets `model`'s queue depth: images admitted and not yet in a running batch.
    func setQueueDepth(model: String, depth: Int) {
        registry.makeGauge(descriptor: name("queue_depth", unit: "images", help: "Images admitted and not yet in a running batch."),
                           labels: [("model", model)]).set(Double(depth))
    }

    /// The batcher observer that feeds `model`'s batch and queue metrics.
    func observer(model: String) -> DynamicBatcher<[Float], [Float]>.Observer {
        .init(queueDepth: { [self] in setQueueDepth(model: model, depth: $0) },
              batch: { [self] in recordBatch(model: model, size: $0) })
    }

    /// The text exposition format (version 0.0.4).
    public func exposition() -> String { registry.emitToString() }
}
