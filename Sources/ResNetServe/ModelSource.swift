import Foundation
import ResNetTraining

/// Where a served model comes from. `load()` is the one place the server builds a `Predictor`,
/// so another way of loading a trained model (published weights by architecture name) is one more
/// case here and nothing else changes.
public enum ModelSource: Sendable, Equatable {
    /// A run directory, or a weights file beside its checkpoint.json (`--checkpoint`).
    case checkpoint(path: String)

    /// Builds the predictor: model, class names and preprocessing. Called on the model's batch
    /// thread inside its engine context, so the weights and their caches belong to that context.
    func load() throws -> Predictor {
        switch self {
        case .checkpoint(let path): return try Predictor(checkpoint: path)
        }
    }

    /// The name a model is served under when none is given: the run directory's name (for a weights
    /// file, its directory's name).
    var defaultName: String {
        switch self {
        case .checkpoint(let path):
            var url = URL(fileURLWithPath: path).standardizedFileURL
            if url.pathExtension == "safetensors" { url.deleteLastPathComponent() }
            return url.lastPathComponent
        }
    }
}

/// One model the server serves: its name in routes and the source it loads from.
public struct ModelSpec: Sendable, Equatable {
    public var name: String
    public var source: ModelSource

    public init(name: String, source: ModelSource) {
        self.name = name
        self.source = source
    }

    /// `--checkpoint RUN` (served as RUN's directory name) or `--checkpoint NAME=RUN`. An argument that
    /// is an existing path is always a path, even with `=` in it.
    public static func checkpoint(argument: String) throws -> ModelSpec {
        if let eq = argument.firstIndex(of: "="), !FileManager.default.fileExists(atPath: argument) {
            let name = String(argument[..<eq]), path = String(argument[argument.index(after: eq)...])
            try validate(name: name, option: "--checkpoint \(argument)")
            return ModelSpec(name: name, source: .checkpoint(path: path))
        }
        let source = ModelSource.checkpoint(path: argument)
        try validate(name: source.defaultName, option: "--checkpoint \(argument)")
        return ModelSpec(name: source.defaultName, source: source)
    }

    /// Names appear in URL paths: letters, digits, `.`, `_` and `-`, at most 128 characters.
    static func validate(name: String, option: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, name.count <= 128, name.allSatisfy(allowed.contains), name != ".", name != ".." else {
            throw ServeSetupError.invalidOption(option: option,
                message: "model name '\(name)' must be 1-128 letters, digits, '.', '_' or '-' (use NAME=RUN to choose one)")
        }
    }
}
