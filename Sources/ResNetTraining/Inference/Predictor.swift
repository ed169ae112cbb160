import Foundation
import ResNetData
import ResNetModels

/// A trained model ready to classify images: the network, its class names and the preprocessing
/// it was trained with, all read from a run directory or a weights file beside its checkpoint.json.
public final class Predictor {
    public let model: ResNet
    public let info: CheckpointInfo
    public let weightsFile: URL

    /// `path`: a run directory (uses checkpoint.safetensors) or a .safetensors file whose directory
    /// holds the run's checkpoint.json (e.g. RUN_DIR/best.safetensors).
    public init(checkpoint path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TrainingError.checkpoint("\(path) not found")
        }
        let file = URL(fileURLWithPath: path)
        let run = RunDirectory(isDir.boolValue ? path : file.deletingLastPathComponent().path)
        guard FileManager.default.fileExists(atPath: run.info.path) else {
            throw TrainingError.checkpoint("no \(RunDirectory.infoFile) beside \(path): the model configuration and class names are unknown")
        }
        info = try run.loadInfo()
        weightsFile = isDir.boolValue ? run.weights : file
        model = try ResNet(info.modelConfig)
        try WeightLoader.load(try SafeTensors.read(weightsFile).tensors(), into: model, source: weightsFile.path)
        model.eval()
    }

    public var classNames: [String] { info.classNames }

    /// Class probabilities for each image file, preprocessed as in training (no augmentation).
    public func probabilities(files: [String]) throws -> [[Float]] {
        let p = info.preprocessing
        let pipeline = p.pipeline()
        // checkpoint.json is a text file people edit: a mean/std of the wrong length must be an error.
        try pipeline.validate()
        var out: [[Float]] = []
        for path in files {
            let image = try ImageDecoder.decode(file: path, channels: p.channels, sizeHint: pipeline.sizeHint)
            var input = [Float](repeating: 0, count: p.height * p.width * p.channels)
            var rng = SampleRandom(seed: 0)
            let size = input.withUnsafeMutableBufferPointer { pipeline.process(image, rng: &rng, into: $0.baseAddress!) }
            guard size.height == p.height && size.width == p.width else {
                throw TrainingError.invalidOption("\(path): preprocessing produced \(size.height)x\(size.width), expected \(p.height)x\(p.width)")
            }
            let logits = GradMode.withoutGradient { model(Tensor(shape: [1, p.height, p.width, p.channels], values: input)) }
            out.append(GradMode.withoutGradient { softmax(logits) }.array)
        }
        return out
    }

    /// The `k` most probable classes of each file, best first.
    public func topK(files: [String], k: Int) throws -> [[(name: String, probability: Float)]] {
        try probabilities(files: files).map { probs in
            probs.enumerated().sorted { $0.element != $1.element ? $0.element > $1.element : $0.offset < $1.offset }
                .prefix(k).map { (classNames[$0.offset], $0.element) }
        }
    }
}
