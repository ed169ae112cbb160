import Foundation
import ResNetData
import ResNetModels

/// Where a model to run comes from: a run of `resnet train`, or a registry model with a published
/// torchvision-keyed weights file. `predict`, `evaluate`, `export` and `serve` all build their
/// `Predictor` from one of these, so each takes both kinds the same way.
public enum ModelSource: Sendable, Equatable {
    /// A run directory (its committed answer: the EMA when the run keeps one, unless `rawWeights`)
    /// or one of a run's weights files beside its checkpoint.json.
    case checkpoint(String, rawWeights: Bool = false)
    /// A registry model (`resnet50`) and a safetensors file with torchvision's key names.
    case published(PublishedWeights)
}

/// A registry model with weights from elsewhere (torchvision, timm): no checkpoint.json, so the
/// class count comes from the file's `fc.weight`, the names from `classesFile` (or the built-in
/// ImageNet names for a 1000-way head), and the preprocessing is torchvision's evaluation transform.
public struct PublishedWeights: Sendable, Equatable {
    public var model: String
    /// nil: the network freshly initialised from `initSeed` (to try a runtime or a deployment
    /// before any training; `resnet ... --model NAME --init-seed N`).
    public var weights: String?
    public var initSeed: UInt64 = 0
    /// One class name per line (`--classes`); nil: the built-in ImageNet-1k names, for 1000 outputs.
    public var classesFile: String?
    /// Shorter side before the centre crop: 256 for torchvision's V1 weights, 232 for resnet50's V2.
    public var resizeShorter: Int
    /// The centre crop's side; nil: 224 for ImageNet-stem models, 32 for the CIFAR ones.
    public var imageSize: Int?

    public static let defaultResizeShorter = 256

    public init(model: String, weights: String?, initSeed: UInt64 = 0, classesFile: String? = nil,
                resizeShorter: Int = defaultResizeShorter, imageSize: Int? = nil) {
        self.model = model; self.weights = weights; self.initSeed = initSeed; self.classesFile = classesFile
        self.resizeShorter = resizeShorter; self.imageSize = imageSize
    }

    /// The preprocessing for `config`: ImageNet's mean and std, bilinear, shorter side then crop.
    func preprocessing(for config: ResNetConfig) -> Preprocessing {
        let crop = imageSize ?? (config.stem == .cifar ? 32 : 224)
        return .imageNet(resizeShorter: resizeShorter, crop: crop)
    }

    /// Checks everything but the files' contents, before anything is read or allocated.
    func validateOptions() throws -> ResNetConfig {
        let config: ResNetConfig
        do { config = try ResNetRegistry.config(model) } catch { throw TrainingError.invalidOption("--model: \(error)") }
        guard config.inputChannels == 3 else {
            throw TrainingError.invalidOption("--model \(model) takes \(config.inputChannels) input channel(s); published weights use RGB")
        }
        if let imageSize, !(1...ImagePipeline.maxSide).contains(imageSize) {
            throw TrainingError.invalidOption("--image-size must be between 1 and \(ImagePipeline.maxSide) (got \(imageSize))")
        }
        let crop = imageSize ?? (config.stem == .cifar ? 32 : 224)
        guard (crop...ImagePipeline.maxSide).contains(resizeShorter) else {
            throw TrainingError.invalidOption("--resize-shorter must be between \(crop) (the crop, --image-size) and \(ImagePipeline.maxSide) (got \(resizeShorter))")
        }
        guard weights?.isEmpty != true else { throw TrainingError.invalidOption("--weights is empty") }
        return config
    }

    /// The ImageNet names, when `outputs` is their count.
    static func builtInNames(outputs: Int, source: String) throws -> [String] {
        guard outputs == ImageNetClasses.names.count else {
            throw TrainingError.invalidOption("\(source) has \(outputs) outputs, not ImageNet's \(ImageNetClasses.names.count): "
                + "give --classes FILE with \(outputs) names, one per line")
        }
        return ImageNetClasses.names
    }

    /// The network with the file's weights, its class names and preprocessing. Errors name the
    /// file and the key (or option) that does not fit.
    func load() throws -> (model: ResNet, classNames: [String], preprocessing: Preprocessing) {
        var config = try validateOptions()
        let names = try classesFile.map(ClassNamesFile.read)
        guard let weights else {
            if let names { config.numClasses = names.count }
            let classNames = try names ?? Self.builtInNames(outputs: config.numClasses ?? 0, source: "--model \(model) (freshly initialised)")
            config.seed = initSeed
            let pre = preprocessing(for: config)
            try pre.validate(for: config, file: "--model \(model)")
            let net = try ResNet(config)
            net.eval()
            return (net, classNames, pre)
        }
        guard FileManager.default.fileExists(atPath: weights) else { throw TrainingError.weights("\(weights) not found") }
        switch try RunDirectory.resolve(weights) {
        case .runDirectory, .committed:
            throw TrainingError.invalidOption("--weights \(weights) is a run of `resnet train` (it has a checkpoint.json): use --checkpoint \(weights)")
        case .file: break
        }
        let tensors = try SafeTensors.read(URL(fileURLWithPath: weights)).tensors()
        guard let fc = tensors["fc.weight"] else {
            let hint = tensors.keys.sorted().first.map { " (its first key is '\($0)')" } ?? " (it holds no tensors)"
            throw TrainingError.weights("\(weights): no key 'fc.weight', the classifier of a torchvision ResNet\(hint)")
        }
        guard fc.rank == 2 else { throw TrainingError.weights("\(weights): key 'fc.weight' has shape \(fc.shape), expected [classes, features]") }
        let outputs = fc.shape[0]
        guard (1...ResNetConfig.maxClasses).contains(outputs) else {
            throw TrainingError.weights("\(weights): key 'fc.weight' has \(outputs) outputs, at most \(ResNetConfig.maxClasses)")
        }
        let classNames: [String]
        if let names {
            guard names.count == outputs else {
                throw TrainingError.invalidOption("--classes \(classesFile!) has \(names.count) names but 'fc.weight' in \(weights) has \(outputs) outputs")
            }
            classNames = names
        } else {
            classNames = try Self.builtInNames(outputs: outputs, source: "'fc.weight' in \(weights)")
        }
        config.numClasses = outputs
        let pre = preprocessing(for: config)
        try pre.validate(for: config, file: "--model \(model)")
        let net = try ResNet(config)
        try WeightLoader.load(tensors, into: net, source: weights)
        net.eval()
        return (net, classNames, pre)
    }
}
