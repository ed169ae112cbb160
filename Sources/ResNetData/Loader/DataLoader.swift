import Foundation

/// Batches from a dataset through a pipeline, decoded on worker threads into a bounded
/// queue. Every epoch's order and every augmentation draw derive from the seed, so a batch
/// is the same whatever the thread count or scheduling, and an epoch can resume mid-way.
public final class DataLoader: @unchecked Sendable {
    public let dataset: any ImageDataset
    public let pipeline: ImagePipeline
    public let options: LoaderOptions
    /// Output image size of every batch.
    public let height: Int, width: Int
    /// Called once per unreadable image (default: prints to stderr). Replaceable for tests/UIs.
    public var warningHandler: @Sendable (String) -> Void = { message in
        FileHandle.standardError.write(Data(("warning: " + message + "\n").utf8))
    }

    private let warnedLock = NSLock()
    private var warned = Set<Int>()

    public init(dataset: any ImageDataset, pipeline: ImagePipeline, options: LoaderOptions = LoaderOptions()) throws {
        try options.validate()
        try pipeline.validate()
        guard dataset.count > 0 else { throw DataError.invalidArgument("the dataset is empty") }
        guard let size = pipeline.outputSize(input: dataset.uniformImageSize) else {
            throw DataError.invalidArgument("images of this dataset vary in size; add a resize or crop step so batches have one size")
        }
        self.dataset = dataset
        self.pipeline = pipeline
        self.options = options
        self.height = size.height
        self.width = size.width
    }

    /// Batches per epoch of this loader's shard (the last partial batch counts unless dropLast).
    public var batchesPerEpoch: Int {
        let samples = options.shard.length(of: dataset.count)
        return options.dropLast ? samples / options.batchSize : (samples + options.batchSize - 1) / options.batchSize
    }

    /// The dataset indices of epoch `epoch` in delivery order: this loader's shard of the epoch's
    /// permutation, which is the same in every process.
    public func order(epoch: Int) -> [Int] {
        guard options.shuffle else { return options.shard.select(Array(0..<dataset.count)) }
        var rng = SampleRandom(seed: options.seed, epoch: epoch, index: 0, salt: RandomSalt.shuffle)
        return options.shard.select(rng.permutation(dataset.count))
    }

    /// Starts epoch `epoch` at batch `startBatch` (0 for a fresh epoch, >0 to resume exactly
    /// where a checkpoint stopped). Workers start immediately and stop when the iterator ends,
    /// is cancelled, or is released.
    public func epoch(_ epoch: Int, startingAtBatch startBatch: Int = 0) -> EpochIterator {
        EpochIterator(loader: self, epoch: epoch, startBatch: max(0, startBatch))
    }

    /// Decodes one batch on the calling thread (what the workers run).
    func assemble(epoch: Int, batchIndex: Int, order: [Int]) throws -> BatchAssembler.Output {
        let lo = batchIndex * options.batchSize
        let hi = min(lo + options.batchSize, order.count)
        let assembler = BatchAssembler(dataset: dataset, pipeline: pipeline, height: height, width: width,
                                       seed: options.seed, strict: options.strict)
        return try assembler.assemble(indices: Array(order[lo..<hi]), epoch: epoch, batchIndex: batchIndex)
    }

    /// Warns once per image for the loader's lifetime (later epochs only count it).
    func warnOnce(index: Int, message: String) {
        warnedLock.lock()
        let first = warned.insert(index).inserted
        warnedLock.unlock()
        if first { warningHandler(message) }
    }
}
