import Foundation
import ResNetData
import ResNetModels

/// A trained model ready to classify images: the network, its class names and the preprocessing
/// it was trained with, all read from a run directory or a weights file beside its checkpoint.json.
public final class Predictor {
    public let model: ResNet
    public let info: CheckpointInfo
    public let weightsFile: URL
    /// The checkpoint's preprocessing, built once (loadInfo has validated it).
    private let pipeline: ImagePipeline

    /// `path`: a run directory (uses checkpoint.safetensors) or a .safetensors file whose directory
    /// holds the run's checkpoint.json (e.g. RUN_DIR/best.safetensors). A run trained with `--ema`
    /// given as a directory answers with its averaged weights (what its validation measured) unless
    /// `rawWeights` is set.
    public init(checkpoint path: String, rawWeights: Bool = false) throws {
        let tensors: [String: Tensor]
        switch try RunDirectory.resolve(path) {
        case .runDirectory(let run):
            // A run directory means its best answer; a file named explicitly is read as named.
            (info, tensors, weightsFile) = try run.loadAnswer(raw: rawWeights)
        case .committed(let run, let role):
            (info, tensors, weightsFile) = try run.loadCommitted(role)
        case .file(let file):
            throw TrainingError.checkpoint("no \(RunDirectory.infoFile) beside \(file.path): the model configuration and class names are unknown")
        }
        pipeline = info.preprocessing.pipeline()
        model = try ResNet(info.modelConfig)
        try WeightLoader.load(tensors, into: model, source: weightsFile.path)
        model.eval()
    }

    public var classNames: [String] { info.classNames }
    /// Whether the weights are the run's moving average (`--ema`).
    public var usesEMA: Bool { weightsFile.lastPathComponent == info.emaFile }

    /// Class probabilities for one image file, preprocessed as in training (no augmentation).
    public func probabilities(file path: String) throws -> [Float] {
        try probabilities(inputs: [input(decoding: FileIO.read(path), source: path)])[0]
    }

    /// One image's network input (height x width x channels floats): `bytes` decoded and
    /// preprocessed as in training, no augmentation. Reads only immutable state, so any thread may
    /// call it while another runs the model (the server preprocesses on worker threads).
    public func input(decoding bytes: [UInt8], source: String) throws -> [Float] {
        let p = info.preprocessing
        let image = try ImageDecoder.decode(bytes, channels: p.channels, sizeHint: pipeline.sizeHint, source: source)
        var input = [Float](repeating: 0, count: p.height * p.width * p.channels)
        var rng = SampleRandom(seed: 0)
        let size = input.withUnsafeMutableBufferPointer { pipeline.process(image, rng: &rng, into: $0.baseAddress!) }
        guard size.height == p.height && size.width == p.width else {
            throw TrainingError.invalidOption("\(source): preprocessing produced \(size.height)x\(size.width), expected \(p.height)x\(p.width)")
        }
        return input
    }

    /// Class probabilities of several inputs from `input(decoding:source:)`, run through the model
    /// as one batch tensor (the server's dynamic batches); row `i` answers `inputs[i]`.
    public func probabilities(inputs: [[Float]]) -> [[Float]] {
        guard !inputs.isEmpty else { return [] }
        let p = info.preprocessing
        let logits = GradMode.withoutGradient { model(Tensor(shape: [inputs.count, p.height, p.width, p.channels], values: inputs.flatMap { $0 })) }
        let rows = GradMode.withoutGradient { softmax(logits) }.toArray()
        let classes = rows.count / inputs.count
        return (0..<inputs.count).map { Array(rows[$0 * classes..<($0 + 1) * classes]) }
    }

    /// Class probabilities for each image file; the first unreadable file throws.
    public func probabilities(files: [String]) throws -> [[Float]] {
        try files.map { try probabilities(file: $0) }
    }

    /// The `k` most probable classes of one file, best first.
    public func topK(file: String, k: Int) throws -> [(name: String, probability: Float)] {
        try topK(probabilities(file: file), k: k)
    }

    /// The `k` most probable classes in `probabilities`, best first (ties: the lower class index).
    public func topK(_ probabilities: [Float], k: Int) -> [(name: String, probability: Float)] {
        probabilities.enumerated()
            .sorted { $0.element != $1.element ? $0.element > $1.element : $0.offset < $1.offset }
            .prefix(k).map { (classNames[$0.offset], $0.element) }
    }
}
