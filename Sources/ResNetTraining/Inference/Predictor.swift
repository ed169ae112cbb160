import Foundation
import ResNetData
import ResNetEngine
import ResNetModels

/// A model ready to classify images: the network, its class names and its preprocessing, from a
/// run directory or from a registry model with published weights (`ModelSource`).
///
/// One predictor runs one forward at a time; it uses the engine context current when it is called
/// (its tensors live on the context it was built in).
public final class Predictor {
    public let model: ResNet
    public let classNames: [String]
    public let preprocessing: Preprocessing
    /// The weights file read (nil: a freshly initialised network, `--init-seed`).
    public let weightsFile: URL?
    /// The run's description when the model comes from a run directory; nil for published weights.
    public let checkpoint: CheckpointInfo?
    /// The preprocessing as a pipeline, built once (validated on load).
    private let pipeline: ImagePipeline

    public init(_ source: ModelSource) throws {
        switch source {
        case .checkpoint(let path, let rawWeights):
            let info: CheckpointInfo, tensors: [String: Tensor], file: URL
            switch try RunDirectory.resolve(path) {
            case .runDirectory(let run):
                // A run directory means its best answer; a file named explicitly is read as named.
                (info, tensors, file) = try run.loadAnswer(raw: rawWeights)
            case .committed(let run, let role):
                (info, tensors, file) = try run.loadCommitted(role)
            case .file(let file):
                throw TrainingError.checkpoint("no \(RunDirectory.infoFile) beside \(file.path): the model configuration and class names are unknown "
                    + "(for published weights give --model NAME --weights FILE)")
            }
            let net = try ResNet(info.modelConfig)
            try WeightLoader.load(tensors, into: net, source: file.path)
            net.eval()
            (model, classNames, preprocessing, weightsFile, checkpoint) = (net, info.classNames, info.preprocessing, file, info)
        case .published(let published):
            let loaded = try published.load()
            (model, classNames, preprocessing) = (loaded.model, loaded.classNames, loaded.preprocessing)
            weightsFile = published.weights.map { URL(fileURLWithPath: $0).standardizedFileURL }
            checkpoint = nil
        }
        pipeline = preprocessing.pipeline()
    }

    /// A run directory or one of its weights files (see `ModelSource.checkpoint`).
    public convenience init(checkpoint path: String, rawWeights: Bool = false) throws {
        try self.init(.checkpoint(path, rawWeights: rawWeights))
    }

    /// Whether the weights are the run's moving average (`--ema`).
    public var usesEMA: Bool { checkpoint.map { weightsFile?.lastPathComponent == $0.emaFile } ?? false }

    /// Floats per preprocessed image: height x width x channels (NHWC, one image).
    public var inputCount: Int { preprocessing.height * preprocessing.width * preprocessing.channels }

    /// Decodes image bytes (JPEG, PNG, PPM/PGM) as the preprocessing wants them; `source` names them in errors.
    public func decode(_ bytes: [UInt8], source: String) throws -> PixelImage {
        try ImageDecoder.decode(bytes, channels: preprocessing.channels, sizeHint: pipeline.sizeHint, source: source)
    }

    /// One decoded image, preprocessed (no augmentation): `inputCount` floats, HWC. Safe to call
    /// from several threads at once (it touches no engine state).
    public func input(_ image: PixelImage, source: String) throws -> [Float] {
        var input = [Float](repeating: 0, count: inputCount)
        var rng = SampleRandom(seed: 0)
        let size = input.withUnsafeMutableBufferPointer { pipeline.process(image, rng: &rng, into: $0.baseAddress!) }
        let p = preprocessing
        guard size.height == p.height && size.width == p.width else {
            throw TrainingError.invalidOption("\(source): preprocessing produced \(size.height)x\(size.width), expected \(p.height)x\(p.width)")
        }
        return input
    }

    /// One image file, decoded and preprocessed.
    public func input(file path: String) throws -> [Float] {
        try input(try ImageDecoder.decode(file: path, channels: preprocessing.channels, sizeHint: pipeline.sizeHint), source: path)
    }

    /// The logits of a batch of preprocessed images (each `inputCount` floats), one forward pass.
    public func logits(_ inputs: [[Float]]) -> [[Float]] {
        run(inputs) { $0 }
    }

    /// The class probabilities (softmax of the logits) of a batch of preprocessed images.
    public func probabilities(_ inputs: [[Float]]) -> [[Float]] {
        run(inputs) { ResNetEngine.softmax($0) }
    }

    private func run(_ inputs: [[Float]], _ head: (Tensor) -> Tensor) -> [[Float]] {
        guard !inputs.isEmpty else { return [] }
        let p = preprocessing, n = inputCount
        precondition(inputs.allSatisfy { $0.count == n }, "each input must hold \(n) floats (\(p.height)x\(p.width)x\(p.channels))")
        let values = Array(inputs.joined())
        let out = GradMode.withoutGradient { head(model(Tensor(shape: [inputs.count, p.height, p.width, p.channels], values: values))) }.toArray()
        let k = out.count / inputs.count
        return (0..<inputs.count).map { Array(out[$0 * k ..< ($0 + 1) * k]) }
    }

    /// Class probabilities for one image file, preprocessed as in training (no augmentation).
    public func probabilities(file path: String) throws -> [Float] {
        probabilities([try input(file: path)])[0]
    }

    /// Class probabilities for each image file; the first unreadable file throws.
    public func probabilities(files: [String]) throws -> [[Float]] {
        try files.map { try probabilities(file: $0) }
    }

    /// The softmax of one logits vector, summed in double precision.
    public static func softmax(_ logits: [Float]) -> [Float] {
        guard let top = logits.max() else { return [] }
        let e = logits.map { Foundation.exp(Double($0 - top)) }
        let sum = e.reduce(0, +)
        return e.map { Float($0 / sum) }
    }

    /// The `k` most probable classes of one probability vector, best first (ties: lower index first).
    public func topK(_ probabilities: [Float], k: Int) -> [(name: String, probability: Float)] {
        probabilities.enumerated()
            .sorted { $0.element != $1.element ? $0.element > $1.element : $0.offset < $1.offset }
            .prefix(k).map { (classNames[$0.offset], $0.element) }
    }

    /// The `k` most probable classes of one file, best first.
    public func topK(file: String, k: Int) throws -> [(name: String, probability: Float)] {
        topK(try probabilities(file: file), k: k)
    }
}
