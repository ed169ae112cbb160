import Foundation
import ResNetData
import ResNetModels

/// How an image becomes a network input; saved so `evaluate` and `predict` see what training saw.
public struct Preprocessing: Codable, Equatable, Sendable {
    public var height: Int
    public var width: Int
    public var channels: Int
    public var rescale: Float
    public var mean: [Float]?
    public var std: [Float]?
    /// "nearest" (Keras's default) or "bilinear".
    public var resizeFilter: String?

    public init(height: Int, width: Int, channels: Int, rescale: Float, mean: [Float]? = nil, std: [Float]? = nil,
                resizeFilter: String? = nil) {
        self.height = height; self.width = width; self.channels = channels
        self.rescale = rescale; self.mean = mean; self.std = std; self.resizeFilter = resizeFilter
    }

    /// The deterministic pipeline (no augmentation): resize, rescale, normalize.
    public func pipeline(augmentation: AffineAugmentation = .none) -> ImagePipeline {
        var p = ImagePipeline.keras(height: height, width: width, channels: channels, augmentation: augmentation, rescale: rescale,
                                    filter: resizeFilter.flatMap(ResizeFilter.init(rawValue:)) ?? .nearest)
        p.mean = mean
        p.std = std
        return p
    }
}

/// `RUN_DIR/checkpoint.json`: everything beside the weights needed to resume exactly or to use
/// the model: its configuration, classes, preprocessing, position and history.
public struct CheckpointInfo: Codable, Sendable {
    public var format = "swiftresnet-checkpoint/1"
    public var settings: TrainingSettings
    public var modelConfig: ResNetConfig
    public var classNames: [String]
    public var preprocessing: Preprocessing
    /// Epochs completed; training resumes at this (0-based) epoch, batch 0.
    public var epoch: Int
    /// Optimizer steps taken so far.
    public var step: Int
    public var learningRate: Float
    public var history: [[String: Double]]
    public var bestMetric: Double?
    public var bestEpoch: Int?
    public var plateau: [String: Double]?
    /// Where the optimizer's state (momentum buffers, Adam moments) is, relative to the run directory.
    public var optimizerStateFile = RunDirectory.optimizerFile
    /// The loader's position: same seed, next epoch, first batch.
    public var loaderSeed: UInt64
    public var stoppedEarly = false
}

/// The files of a run directory, each written to a temporary name, synced, then renamed.
public struct RunDirectory: Sendable {
    public static let weightsFile = "checkpoint.safetensors"
    public static let optimizerFile = "optimizer.safetensors"
    public static let infoFile = "checkpoint.json"
    public static let bestFile = "best.safetensors"

    public let url: URL
    public init(_ path: String) { url = URL(fileURLWithPath: path) }

    public var weights: URL { url.appendingPathComponent(Self.weightsFile) }
    public var optimizerState: URL { url.appendingPathComponent(Self.optimizerFile) }
    public var info: URL { url.appendingPathComponent(Self.infoFile) }
    public var best: URL { url.appendingPathComponent(Self.bestFile) }
    public var historyCSV: URL { url.appendingPathComponent("history.csv") }
    public var historySVG: URL { url.appendingPathComponent("history.svg") }

    public func create() throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Saves weights, optimizer state, then the JSON that commits them. Each tensor file carries
    /// its epoch in its metadata, so a resume can tell a torn save from a whole one.
    public func save(info: CheckpointInfo, model: [String: Tensor], optimizer: [String: Tensor]) throws {
        let meta = ["format": "pt", "epoch": String(info.epoch), "model": info.modelConfig.name]
        // Encoded first: a description that cannot be encoded (a NaN in the history) must fail
        // before the tensor files of the last good epoch are replaced.
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let description = try encoder.encode(info)
        // The previous epoch's tensor files stay reachable as `*.prev` (hard links, no copy) until
        // the JSON commits the new ones: a kill between the renames below loses nothing.
        for file in [weights, optimizerState] { try keepPrevious(file) }
        try SafeTensors.write(model, metadata: meta, to: weights)
        try SafeTensors.write(optimizer, metadata: meta, to: optimizerState)
        try AtomicFile.write(description, to: self.info)
    }

    /// `file.prev`: the last committed version of a tensor file.
    static func previous(_ file: URL) -> URL { file.appendingPathExtension("prev") }

    private func keepPrevious(_ file: URL) throws {
        guard FileManager.default.fileExists(atPath: file.path) else { return }
        let prev = Self.previous(file)
        try? FileManager.default.removeItem(at: prev)
        guard link(file.path, prev.path) == 0 else {
            throw TrainingError.checkpoint("cannot keep \(file.path) as \(prev.lastPathComponent): \(String(cString: strerror(errno)))")
        }
    }

    public func loadInfo() throws -> CheckpointInfo {
        guard FileManager.default.fileExists(atPath: info.path) else {
            throw TrainingError.checkpoint("\(info.path) not found: not a run directory of `resnet train`")
        }
        do {
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            return try decoder.decode(CheckpointInfo.self, from: Data(contentsOf: info))
        } catch let e as DecodingError {
            throw TrainingError.checkpoint("\(info.path) is not a valid checkpoint description: \(e)")
        }
    }

    /// Reads a tensor file and checks it belongs to `epoch` of this run.
    /// When a save was killed after replacing `file` but before committing the JSON, the
    /// committed version is still there as `file.prev`, and is used.
    public func loadTensors(_ file: URL, epoch: Int) throws -> [String: Tensor] {
        let st = try SafeTensors.read(file)
        if let e = st.metadata["epoch"], e != String(epoch) {
            let prev = Self.previous(file)
            if let older = try? SafeTensors.read(prev), older.metadata["epoch"] == String(epoch) { return try older.tensors() }
            throw TrainingError.checkpoint("\(file.path) is from epoch \(e) but \(info.path) records epoch \(epoch), and no \(prev.lastPathComponent) of that epoch exists: restore a consistent copy")
        }
        return try st.tensors()
    }
}
