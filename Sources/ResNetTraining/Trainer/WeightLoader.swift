import Foundation
import ResNetModels

/// Loads weights by torchvision name into a model: a torchvision/timm `model.safetensors` into the
/// matching v1 model, or one of our checkpoints. Every key must match in name and shape; only a
/// classifier for another class count is left newly initialised (fine-tuning), and that is said.
public enum WeightLoader {
    /// Returns notes for the user (e.g. the re-initialised head). Throws naming the first bad key.
    /// `allowNewHead`: fine-tuning from `--weights`, where another class count keeps the backbone;
    /// a run's own checkpoint must match its model exactly, classifier included.
    @discardableResult
    public static func load(_ tensors: [String: Tensor], into model: ResNet, source: String, allowNewHead: Bool = false) throws -> [String] {
        let own = model.stateDict()
        var notes: [String] = []
        var resetHead = false
        if allowNewHead, let w = tensors["fc.weight"], let mine = own["fc.weight"], w.shape != mine.shape, w.rank == 2, w.shape[1] == mine.shape[1] {
            resetHead = true
            notes.append("the classifier in \(source) has \(w.shape[0]) classes, this model \(mine.shape[0]): kept the backbone, fc re-initialised")
        }
        let name = model.config.name
        do {
            // timm's files may leave out the BN counters; they only matter to PyTorch's momentum=None mode.
            try model.loadStateDict(tensors, skipping: resetHead ? ["fc.weight", "fc.bias"] : [],
                                    optional: { $0.hasSuffix("num_batches_tracked") })
        } catch let error as StateError {
            switch error {
            case .unexpectedKey(let k): throw TrainingError.weights("\(source): key '\(k)' is not part of \(name) (another architecture?)")
            case .missingKey(let k): throw TrainingError.weights("\(source): missing key '\(k)' for \(name)")
            case .shapeMismatch(let k, let expected, let found):
                throw TrainingError.weights("\(source): key '\(k)' has shape \(found), \(name) expects \(expected)")
            }
        }
        return notes
    }

    /// Reads weights from a run directory (its committed answer: the EMA when the run keeps one,
    /// as `predict` and `evaluate` use), one of a run's files (checked against its checkpoint.json)
    /// or any other .safetensors file; `file` is the one read.
    public static func read(_ path: String) throws -> (tensors: [String: Tensor], file: String) {
        guard FileManager.default.fileExists(atPath: path) else { throw TrainingError.weights("\(path) not found") }
        switch try RunDirectory.resolve(path) {
        case .runDirectory(let run):
            let answer = try run.loadAnswer()
            return (answer.tensors, answer.file.path)
        case .committed(let run, let role):
            let committed = try run.loadCommitted(role)
            return (committed.tensors, committed.file.path)
        case .file(let url): return (try SafeTensors.read(url).tensors(), url.path)
        }
    }
}
