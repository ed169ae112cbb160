import ArgumentParser
import ResNetTraining

/// The options that say which model to run, shared by `predict`, `evaluate`, `export` (and
/// `serve`): a run directory (`--checkpoint`), or a registry model with published weights
/// (`--model NAME --weights FILE`, torchvision's ImageNet preprocessing).
struct ModelSourceOptions: ParsableArguments {
    @Option(help: "A run directory or a weights file beside its checkpoint.json.") var checkpoint: String?
    @Flag(help: "For a run trained with --ema: use the trained weights, not their moving average (the default for a run directory).") var rawWeights = false
    @OptionGroup var publishedWeights: PublishedWeightsOptions

    var model: String? { publishedWeights.model }
    var classes: String? { publishedWeights.classes }

    func validate() throws {
        let p = publishedWeights   // its own validate() (ranges) runs first, as a nested option group
        let given = p.weights ?? p.initSeed.map { _ in "" }
        switch (checkpoint, p.model, given) {
        case (_?, nil, nil): break
        case (nil, _?, _?): break
        case (_?, _, _): throw ValidationError("give either --checkpoint or --model with --weights, not both")
        case (nil, _?, nil): throw ValidationError("--model needs --weights FILE (a torchvision-keyed .safetensors file)")
        case (nil, nil, _?): throw ValidationError("--weights and --init-seed need --model NAME (which network)")
        case (nil, nil, nil): throw ValidationError("give --checkpoint RUN_DIR, or --model NAME --weights FILE")
        }
        if let name = p.optionWithoutModel {
            throw ValidationError("\(name) goes with --model/--weights (a checkpoint keeps its own classes and preprocessing)")
        }
        if p.model != nil && rawWeights {
            throw ValidationError("--raw-weights goes with --checkpoint (a run trained with --ema)")
        }
    }

    var source: ModelSource {
        if let checkpoint { return .checkpoint(checkpoint, rawWeights: rawWeights) }
        return .published(publishedWeights.published!)   // validate(): --model is given when --checkpoint is not
    }
}
