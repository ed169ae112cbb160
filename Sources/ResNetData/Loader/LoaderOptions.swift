import Foundation

/// Loader settings. Defaults follow Keras's `flow_from_directory` (batch 32, shuffled) and
/// use every core for decoding.
public struct LoaderOptions: Sendable {
    public var batchSize: Int
    /// Reshuffle every epoch from (seed, epoch); off for evaluation.
    public var shuffle: Bool
    /// Drop the last partial batch instead of delivering it short.
    public var dropLast: Bool
    /// Seeds shuffling and every augmentation draw.
    public var seed: UInt64
    /// Decoding threads (default: all cores), 1…`maxWorkers`.
    public var workers: Int
    /// Batches decoded ahead, in flight or waiting (memory ≈ prefetch x batch size); 0 picks 2 x workers.
    public var prefetch: Int
    /// Stop at the first unreadable image instead of skipping it with a warning.
    public var strict: Bool
    /// The share of every epoch this process reads (data-parallel training); `.whole` by default.
    public var shard: DataShard

    public init(batchSize: Int = 32, shuffle: Bool = true, dropLast: Bool = false, seed: UInt64 = 0,
                workers: Int = ProcessInfo.processInfo.activeProcessorCount, prefetch: Int = 0, strict: Bool = false,
                shard: DataShard = .whole) {
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.seed = seed
        self.workers = workers
        self.prefetch = prefetch
        self.strict = strict
        self.shard = shard
    }

    /// Most decoding threads allowed: 8 per core, at least 64. More only adds contention, and
    /// a typo such as 1000000 would otherwise try to start that many threads.
    public static var maxWorkers: Int { max(64, 8 * ProcessInfo.processInfo.activeProcessorCount) }
    /// Largest batch accepted: far above any batch that fits in memory, so an absurd value fails
    /// here instead of overflowing batch arithmetic or the allocator.
    public static let maxBatchSize = 65_536
    /// Largest prefetch depth in batches (memory grows with it).
    public static let maxPrefetch = 1024

    /// Rejects settings the loader cannot honour, naming the option and its limit. `DataLoader`
    /// calls this before it creates any thread or buffer.
    public func validate() throws {
        guard (1...Self.maxBatchSize).contains(batchSize) else {
            throw DataError.invalidArgument("batch size must be between 1 and \(Self.maxBatchSize), got \(batchSize)")
        }
        guard (1...Self.maxWorkers).contains(workers) else {
            throw DataError.invalidArgument("workers must be between 1 and \(Self.maxWorkers) (8 per core, at least 64), got \(workers)")
        }
        guard (0...Self.maxPrefetch).contains(prefetch) else {
            throw DataError.invalidArgument("prefetch must be between 0 (automatic) and \(Self.maxPrefetch) batches, got \(prefetch)")
        }
    }

    /// The effective queue depth in batches.
    public var queueDepth: Int { prefetch > 0 ? prefetch : max(2, 2 * max(1, workers)) }
}

/// What one epoch cost and skipped, available from the iterator while and after it runs.
public struct EpochStatistics: Sendable {
    public var epoch: Int
    public var batches = 0
    public var images = 0
    /// Seconds the consumer spent blocked in `next()` waiting for a batch.
    public var waitSeconds = 0.0
    /// Seconds from the iterator's creation to the last delivered batch.
    public var elapsedSeconds = 0.0
    /// Images skipped as unreadable this epoch (source and reason).
    public var skipped: [(source: String, reason: String)] = []

    public init(epoch: Int) { self.epoch = epoch }

    /// Delivered images per second of elapsed time.
    public var imagesPerSecond: Double { elapsedSeconds > 0 ? Double(images) / elapsedSeconds : 0 }
}
