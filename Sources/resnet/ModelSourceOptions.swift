import ArgumentParser
import ResNetTraining

/// The options that say which model to run, shared by `predict`, `evaluate`, `export` (and
/// `serve`): a run directory (`--checkpoint`), or a registry model with published weights
/// (`--model NAME --weights FILE`, torchvision's ImageNet preprocessing).
struct ModelSourceOptions: ParsableArguments {
    @Option(help: "A run directory or a weights file beside its checkpoint.json.") var checkpoint: String?
    @Flag(help: "For a run trained with --ema: use the trained weights, not their moving average (the default for a run directory).") var rawWeights = false
    @Option(help: "A registry model (resnet50, ...) for --weights.") var model: String?
    @Option(help: "A safetensors file with torchvision's key names (torchvision/timm weights), used with --model.") var weights: String?
    @Option(help: "With --model instead of --weights: a freshly initialised network from this seed (to try a runtime before training).") var initSeed: UInt64?
    @Option(help: "With --model: class names, one per line, in the classifier's order (default: the built-in ImageNet-1k names, for a 1000-way head).") var classes: String?
    @Option(help: "With --model: resize the shorter side to this before the centre crop (256: torchvision's V1 weights; 232: resnet50 IMAGENET1K_V2).") var resizeShorter: Int?
    @Option(help: "With --model: the centre crop's side (default 224; 32 for the CIFAR models).") var imageSize: Int?

    func validate() throws {
        if weights != nil && initSeed != nil { throw ValidationError("give --weights or --init-seed, not both") }
        let given = weights ?? initSeed.map { _ in "" }
        switch (checkpoint, model, given) {
        case (_?, nil, nil): break
        case (nil, _?, _?): break
        case (_?, _, _): throw ValidationError("give either --checkpoint or --model with --weights, not both")
        case (nil, _?, nil): throw ValidationError("--model needs --weights FILE (a torchvision-keyed .safetensors file)")
        case (nil, nil, _?): throw ValidationError("--weights and --init-seed need --model NAME (which network)")
        case (nil, nil, nil): throw ValidationError("give --checkpoint RUN_DIR, or --model NAME --weights FILE")
        }
        if model == nil {
            for (name, given) in [("--classes", classes != nil), ("--resize-shorter", resizeShorter != nil), ("--image-size", imageSize != nil)] where given {
                throw ValidationError("\(name) goes with --model/--weights (a checkpoint keeps its own classes and preprocessing)")
            }
        } else if rawWeights {
            throw ValidationError("--raw-weights goes with --checkpoint (a run trained with --ema)")
        }
        if let r = resizeShorter, !(1...ImagePipeline.maxSide).contains(r) {
            throw ValidationError("--resize-shorter must be between 1 and \(ImagePipeline.maxSide) (got \(r))")
        }
        if let s = imageSize, !(1...ImagePipeline.maxSide).contains(s) {
            throw ValidationError("--image-size must be between 1 and \(ImagePipeline.maxSide) (got \(s))")
        }
    }

    var source: ModelSource {
        if let checkpoint { return .checkpoint(checkpoint, rawWeights: rawWeights) }
        return .published(PublishedWeights(model: model!, weights: weights, initSeed: initSeed ?? 0, classesFile: classes,
                                           resizeShorter: resizeShorter ?? PublishedWeights.defaultResizeShorter, imageSize: imageSize))
    }
}
