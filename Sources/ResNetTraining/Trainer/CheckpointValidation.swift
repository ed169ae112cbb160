import Foundation
import ResNetData
import ResNetModels

/// `checkpoint.json` is a text file people edit and copy between machines: every field is checked
/// against the others and against sane limits before a model is built or a kernel runs, and each
/// error names the file, the field and the limit.
extension CheckpointInfo {
    public static let knownFormat = "swiftresnet-checkpoint/1"
    /// Optimizer steps a run may record (far beyond any run; keeps `step += 1` from overflowing).
    public static let maxSteps = 1 << 52
    /// Processes a run may record (`mpirun -np N`): far beyond any cluster a ResNet trains on.
    public static let maxWorldSize = 1 << 20

    public func validate(file: String) throws {
        func bad(_ field: String, _ message: String) -> TrainingError {
            .checkpoint("\(file): field \(field) \(message)")
        }
        guard format == Self.knownFormat else { throw bad("format", "is '\(format)'; this version reads '\(Self.knownFormat)'") }
        do { try settings.validate() } catch let error as TrainingError {
            throw TrainingError.checkpoint("\(file): settings: \(error)")
        } catch {
            throw TrainingError.checkpoint("\(file): settings: \(error)")
        }
        do { try modelConfig.validate() } catch {
            throw TrainingError.checkpoint("\(file): modelConfig: \(error)")
        }
        guard let classes = modelConfig.numClasses else { throw bad("modelConfig.numClasses", "is missing: a run's model has a classifier") }
        guard classNames.count == classes else {
            throw bad("classNames", "has \(classNames.count) names but modelConfig.numClasses is \(classes): the two must agree")
        }
        if let k = settings.classes, k != classes { throw bad("settings.classes", "is \(k) but modelConfig.numClasses is \(classes)") }
        try preprocessing.validate(for: modelConfig, batchSize: settings.batchSize, file: file)
        guard (0...TrainingSettings.maxEpochs).contains(epoch) else { throw bad("epoch", "is \(epoch); it must lie in 0...\(TrainingSettings.maxEpochs)") }
        guard (0...Self.maxSteps).contains(step) else { throw bad("step", "is \(step); it must lie in 0...\(Self.maxSteps)") }
        guard learningRate.isFinite, learningRate >= 0 else { throw bad("learningRate", "is \(learningRate); it must be a finite, non-negative number") }
        if let worldSize, !(1...Self.maxWorldSize).contains(worldSize) {
            throw bad("worldSize", "is \(worldSize); it must lie in 1...\(Self.maxWorldSize) (the processes of mpirun -np N)")
        }
        if let best = bestEpoch, !(1...max(epoch, 1)).contains(best) || epoch == 0 {
            throw bad("bestEpoch", "is \(best) but only \(epoch) epoch(s) are recorded")
        }
        if bestFile != nil && bestEpoch == nil { throw bad("bestFile", "names \(bestFile!) but bestEpoch is missing") }
        if let plateau {
            // ReduceLROnPlateau's state: its counters become Ints and its rate the learning rate.
            for key in ["learning_rate", "bad_epochs", "cooldown_remaining"] {
                guard let value = plateau[key] else { throw bad("plateau.\(key)", "is missing") }
                let range = key == "learning_rate" ? 0...1e6 : 0...Double(TrainingSettings.maxEpochs)
                guard value.isFinite, range.contains(value), key == "learning_rate" || value.rounded() == value else {
                    throw bad("plateau.\(key)", "is \(value); it must be a finite\(key == "learning_rate" ? "" : " whole") number in \(range)")
                }
            }
            guard let best = plateau["best"], !best.isNaN else { throw bad("plateau.best", "must be a number (or inf/-inf)") }
        }
        let names = [weightsFileName, optimizerStateFile] + (bestFileName.map { [$0] } ?? [])
        guard Set(names.prefix(2)).count == 2, !names.dropFirst(2).contains(optimizerStateFile) else {
            throw bad("optimizerStateFile", "is \(optimizerStateFile), also the name of the weights: each file holds one thing")
        }
        if emaFile != nil && settings.emaDecay == nil { throw bad("emaFile", "names \(emaFile!) but settings.ema is off") }
        if let name = emaFile, [weightsFileName, optimizerStateFile, bestFileName].contains(name) {
            throw bad("emaFile", "is \(name), also the name of another file of the run: each file holds one thing")
        }
        for (field, name) in [("weightsFile", weightsFile), ("optimizerStateFile", optimizerStateFile), ("bestFile", bestFile), ("emaFile", emaFile)] {
            guard let name else { continue }
            guard !name.isEmpty, !name.contains("/"), !name.hasPrefix("."), name.hasSuffix(".safetensors") else {
                throw bad(field, "is '\(name)'; it must be the name of a .safetensors file inside the run directory")
            }
        }
    }
}

extension Preprocessing {
    /// Checks that this preprocessing feeds `config` (channels) with finite numbers and a size
    /// the model can take.
    public func validate(for config: ResNetConfig, batchSize: Int = 1, file: String) throws {
        func bad(_ field: String, _ message: String) -> TrainingError {
            .checkpoint("\(file): field preprocessing.\(field) \(message)")
        }
        guard (1...ResNetConfig.maxInputSize).contains(height) else { throw bad("height", "is \(height); it must lie in 1...\(ResNetConfig.maxInputSize)") }
        guard (1...ResNetConfig.maxInputSize).contains(width) else { throw bad("width", "is \(width); it must lie in 1...\(ResNetConfig.maxInputSize)") }
        guard [1, 3].contains(channels) else { throw bad("channels", "is \(channels); it must be 1 or 3") }
        guard channels == config.inputChannels else {
            throw bad("channels", "is \(channels) but modelConfig.inputChannels is \(config.inputChannels): the two must agree")
        }
        if let filter = resizeFilter, ResizeFilter(rawValue: filter) == nil {
            throw bad("resizeFilter", "is '\(filter)'; it must be nearest or bilinear")
        }
        if let resizeShorter, resizeShorter < max(height, width) || resizeShorter > ImagePipeline.maxSide {
            throw bad("resizeShorter", "is \(resizeShorter); it must lie in \(max(height, width))...\(ImagePipeline.maxSide) (at least the \(height)x\(width) crop)")
        }
        do { try pipeline().validate() } catch {
            throw TrainingError.checkpoint("\(file): field preprocessing: \(error)")
        }
        do { try config.validateInput(height: height, width: width, batchSize: batchSize) } catch {
            throw TrainingError.checkpoint("\(file): field preprocessing: \(error)")
        }
    }
}
