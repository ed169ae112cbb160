import Foundation
import ResNetModels

/// Loads weights by torchvision name into a model: a torchvision/timm `model.safetensors` into the
/// matching v1 model, or one of our checkpoints. Every key must match in name and shape; only a
/// classifier for another class count is left newly initialised (fine-tuning), and that is said.
public enum WeightLoader {
    /// Returns notes for the user (e.g. the re-initialised head). Throws naming the first bad key.
    @discardableResult
    public static func load(_ tensors: [String: Tensor], into model: ResNet, source: String) throws -> [String] {
        let own = model.stateDict()
        var notes: [String] = []
        if let extra = tensors.keys.sorted().first(where: { own[$0] == nil }) {
            throw TrainingError.weights("\(source): key '\(extra)' is not part of \(model.config.name) (another architecture?)")
        }
        let headKeys: Set<String> = ["fc.weight", "fc.bias"]
        var resetHead = false
        if let w = tensors["fc.weight"], let mine = own["fc.weight"], w.shape != mine.shape,
           w.rank == 2, w.shape[1] == mine.shape[1] {
            resetHead = true
            notes.append("the classifier in \(source) has \(w.shape[0]) classes, this model \(mine.shape[0]): kept the backbone, fc re-initialised")
        }
        for name in model.stateNames {
            if resetHead && headKeys.contains(name) { continue }
            guard let value = tensors[name] else {
                // timm's files may leave out the BN counters; they only matter to PyTorch's momentum=None mode.
                if name.hasSuffix("num_batches_tracked") { continue }
                throw TrainingError.weights("\(source): missing key '\(name)' for \(model.config.name)")
            }
            let target = own[name]!
            guard value.shape == target.shape || (value.count == 1 && target.count == 1) else {
                throw TrainingError.weights("\(source): key '\(name)' has shape \(value.shape), \(model.config.name) expects \(target.shape)")
            }
            target.assign(value)
        }
        return notes
    }

    /// Reads weights from a run directory (its checkpoint) or a .safetensors file.
    public static func read(_ path: String) throws -> [String: Tensor] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TrainingError.weights("\(path) not found")
        }
        let file = isDir.boolValue ? RunDirectory(path).weights : URL(fileURLWithPath: path)
        return try SafeTensors.read(file).tensors()
    }
}
