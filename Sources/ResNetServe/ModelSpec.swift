import Foundation
import ResNetTraining

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
            return ModelSpec(name: name, source: .checkpoint(path))
        }
        let name = defaultName(checkpoint: argument)
        try validate(name: name, option: "--checkpoint \(argument)")
        return ModelSpec(name: name, source: .checkpoint(argument))
    }

    /// `--model NAME --weights FILE` (published weights), served under the registry name.
    public static func published(_ weights: PublishedWeights) throws -> ModelSpec {
        try validate(name: weights.model, option: "--model \(weights.model)")
        return ModelSpec(name: weights.model, source: .published(weights))
    }

    /// The name a run is served under when none is given: the run directory's name (for a weights
    /// file, its directory's name).
    static func defaultName(checkpoint path: String) -> String {
        var url = URL(fileURLWithPath: path).standardizedFileURL
        if url.pathExtension == "safetensors" { url.deleteLastPathComponent() }
        return url.lastPathComponent
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
