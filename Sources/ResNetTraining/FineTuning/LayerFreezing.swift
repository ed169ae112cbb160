import ResNetLayers
import ResNetModels

/// `--freeze`: the parts of a ResNet that stop learning while fine-tuning. A frozen parameter takes
/// no gradient, so the optimizer (and its weight decay) never sees it, and a frozen batch norm
/// normalizes with its running statistics and leaves them alone, as Keras's `trainable = False` does.
public enum LayerFreezing {
    /// The parts `--freeze` accepts for `config`: `backbone` (everything but the classifier `fc`),
    /// `stem` (conv1, bn1), `layer1` … `layerK` (CIFAR models have three stages, ImageNet ones four)
    /// and, for v2, the final `postnorm`.
    public static func names(for config: ResNetConfig) -> [String] {
        ["backbone", "stem"] + (1...max(config.stageDepths.count, 1)).map { "layer\($0)" } + (config.version == .v2 ? ["postnorm"] : [])
    }

    /// Throws naming the first unknown part and the parts this model has.
    public static func validate(_ parts: [String], config: ResNetConfig) throws {
        let valid = names(for: config)
        guard !parts.isEmpty else { throw TrainingError.invalidOption("--freeze needs one or more of \(valid.joined(separator: ", "))") }
        if let unknown = parts.first(where: { !valid.contains($0) }) {
            throw TrainingError.invalidOption("--freeze: \(config.name) has no part '\(unknown)'; its parts are \(valid.joined(separator: ", "))")
        }
    }

    /// Freezes `parts` of `model` and returns the top-level modules (torchvision names) now frozen.
    @discardableResult
    public static func freeze(_ parts: [String], in model: ResNet) throws -> [String] {
        try validate(parts, config: model.config)
        let frozen = model.children.filter { child in parts.contains { covers($0, child.name) } }
        for (_, part) in frozen {
            for module in part.modules {
                if let bn = module as? BatchNorm2D { bn.freeze() }
                for (_, parameter) in module.localParameters { parameter.requiresGrad = false }
            }
        }
        return frozen.map(\.name)
    }

    /// Whether `part` of `--freeze` covers the model's top-level module `child`.
    static func covers(_ part: String, _ child: String) -> Bool {
        switch part {
        case "backbone": return child != "fc"
        case "stem": return ["conv1", "bn1", "maxpool"].contains(child)
        default: return part == child
        }
    }
}
