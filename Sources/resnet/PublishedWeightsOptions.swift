import ArgumentParser
import ResNetData
import ResNetTraining

/// The options of a registry model with published weights (`--model NAME --weights FILE`,
/// torchvision's ImageNet preprocessing): one group for `predict`, `evaluate`, `export` and `serve`.
struct PublishedWeightsOptions: ParsableArguments {
    @Option(help: "A registry model (resnet50, ...) for --weights.") var model: String?
    @Option(help: "A safetensors file with torchvision's key names (torchvision/timm weights), used with --model.") var weights: String?
    @Option(help: "With --model instead of --weights: a freshly initialised network from this seed (to try a runtime before training).") var initSeed: UInt64?
    @Option(help: "With --model: class names, one per line, in the classifier's order (default: the built-in ImageNet-1k names, for a 1000-way head).") var classes: String?
    @Option(help: "With --model: resize the shorter side to this before the centre crop (256: torchvision's V1 weights; 232: resnet50 IMAGENET1K_V2).") var resizeShorter: Int?
    @Option(help: "With --model: the centre crop's side (default 224; 32 for the CIFAR models).") var imageSize: Int?

    /// The first option that only means something with `--model`, when it is given without it.
    var optionWithoutModel: String? {
        guard model == nil else { return nil }
        return [("--classes", classes != nil), ("--resize-shorter", resizeShorter != nil), ("--image-size", imageSize != nil)]
            .first { $0.1 }?.0
    }

    /// Bounds and combinations that need no file: checked before anything is read.
    func validate() throws {
        if weights != nil && initSeed != nil { throw ValidationError("give --weights or --init-seed, not both") }
        if let r = resizeShorter, !(1...ImagePipeline.maxSide).contains(r) {
            throw ValidationError("--resize-shorter must be between 1 and \(ImagePipeline.maxSide) (got \(r))")
        }
        if let s = imageSize, !(1...ImagePipeline.maxSide).contains(s) {
            throw ValidationError("--image-size must be between 1 and \(ImagePipeline.maxSide) (got \(s))")
        }
    }

    /// The weights to load, when `--model` is given.
    var published: PublishedWeights? {
        model.map {
            PublishedWeights(model: $0, weights: weights, initSeed: initSeed ?? 0, classesFile: classes,
                             resizeShorter: resizeShorter ?? PublishedWeights.defaultResizeShorter, imageSize: imageSize)
        }
    }
}
