import Foundation
import ResNetData
import ResNetModels

/// The splits of a run with their loaders, built from the settings (so a resumed run sees exactly
/// the same data, order and augmentation).
public struct PreparedData {
    public let classNames: [String]
    public let preprocessing: Preprocessing
    public let train: DataLoader
    public let validation: DataLoader?
    public let test: DataLoader?
    public let description: String

    /// `forEvaluation`: every split, the training one included, is read in order without augmentation.
    /// `preprocessing`: a checkpoint's own, used as saved (evaluation sees what training saw).
    /// `shard`: the part of every training epoch this process reads (data-parallel training); the
    /// validation and test splits are read whole by every process, so all reach the same decisions.
    public init(_ s: TrainingSettings, forEvaluation: Bool = false, preprocessing saved: Preprocessing? = nil,
                shard: DataShard = .whole) throws {
        let splits = try DatasetCatalog.open(data: s.data, dataset: s.data == nil ? (s.dataset ?? "fashion-mnist") : nil,
                                             location: s.datasetLocation, ratios: s.splitRatios, seed: s.seed)
        classNames = splits.classNames
        if let k = s.classes, k != classNames.count {
            throw TrainingError.invalidOption("--classes \(k) but the data has \(classNames.count) classes: \(classNames.joined(separator: ", "))")
        }
        let native = splits.train.uniformImageSize
        let nativeChannels = (splits.train as? InMemoryDataset)?.storage.channels
        let config = try ResNetRegistry.config(s.model)
        let size = s.imageSize ?? native?.height ?? (config.stem == .cifar ? 32 : 224)
        let pre = saved ?? Preprocessing(height: size, width: s.imageSize ?? native?.width ?? size,
                                         channels: s.channels ?? nativeChannels ?? 3, rescale: s.rescale, mean: s.mean, std: s.std,
                                         resizeFilter: s.resizeFilter)
        func loader(_ d: any ImageDataset, training: Bool, shard: DataShard = .whole) throws -> DataLoader {
            try DataLoader(dataset: d, pipeline: s.pipeline(pre, training: training),
                           options: LoaderOptions(batchSize: s.batchSize, shuffle: training, dropLast: false, seed: s.seed,
                                                  workers: s.workers ?? ProcessInfo.processInfo.activeProcessorCount, strict: s.strict,
                                                  shard: shard))
        }
        preprocessing = pre
        train = try loader(splits.train, training: !forEvaluation, shard: forEvaluation ? .whole : shard)
        validation = try splits.validation.map { try loader($0, training: false) }
        test = try splits.test.map { try loader($0, training: false) }
        description = s.data.map { "\(URL(fileURLWithPath: $0).lastPathComponent) (\(splits.layout))" } ?? (s.dataset ?? "fashion-mnist")
    }
}
