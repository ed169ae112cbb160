import ResNetTraining

/// What `GET /v1/models` says of a model: enough for a client to prepare and read its requests
/// (architecture, classes in output order, the preprocessing the server applies).
enum ModelDescription {
    static func json(_ model: ServedModel) -> [String: Any] {
        let p = model.preprocessing
        var preprocessing: [String: Any] = [
            "height": p.height, "width": p.width, "channels": p.channels, "rescale": Double(p.rescale),
            "resize_filter": p.resizeFilter ?? "nearest",
        ]
        if let mean = p.mean { preprocessing["mean"] = mean.map(Double.init) }
        if let std = p.std { preprocessing["std"] = std.map(Double.init) }
        var source: [String: Any] = [:]
        switch model.source {
        case .checkpoint(let path, _): source["checkpoint"] = path
        case .published(let published):
            source["model"] = published.model
            source["weights"] = published.weights
        }
        return [
            "name": model.name,
            "architecture": model.architecture,
            "source": source,
            "classes": model.classNames,
            "num_classes": model.classNames.count,
            "preprocessing": preprocessing,
            "max_batch": model.batcher.maxBatch,
            "queue_limit": model.batcher.queueLimit,
        ]
    }
}
