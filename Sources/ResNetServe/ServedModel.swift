import Foundation
import ResNetEngine
import ResNetTraining

/// A loaded model and its dynamic batcher: images are preprocessed on the caller's (worker)
/// thread, batched, and run on the model's own thread in its own engine context, so several models
/// run side by side without sharing engine state.
public final class ServedModel: @unchecked Sendable {
    public let name: String
    public let source: ModelSource
    let batcher: DynamicBatcher<[Float], [Float]>
    /// Built on the batch thread. Other threads call only `input(decoding:source:)` and `topK`, which
    /// read immutable state (see Predictor); the model itself runs only on the batch thread.
    private let predictor: Predictor

    /// Loads `spec` on a new batch thread and starts batching; throws `ServeSetupError.model` when the
    /// model does not load.
    public init(spec: ModelSpec, options: ServeOptions, observer: DynamicBatcher<[Float], [Float]>.Observer) throws {
        name = spec.name
        source = spec.source
        batcher = DynamicBatcher(maxBatch: options.maxBatch, maxDelay: .microseconds(Int(options.maxDelayMilliseconds * 1000)),
                                 queueLimit: options.queueLimit, observer: observer)
        let loaded = LockedBox<Predictor?>(nil)
        do {
            try batcher.start {
                let context = EngineContext()
                let predictor = try context.run { try Predictor(spec.source) }
                loaded.set(predictor)
                return { inputs in context.run { predictor.probabilities(inputs) } }
            }
        } catch {
            throw ServeSetupError.model(name: spec.name, message: "\(error)")
        }
        predictor = loaded.get()!
    }

    public var classNames: [String] { predictor.classNames }
    public var preprocessing: Preprocessing { predictor.preprocessing }
    /// The registry name of the network (resnet50, ...).
    public var architecture: String { predictor.model.config.name }

    /// One image's network input; throws the decoder's or the preprocessing's reason.
    func input(decoding bytes: [UInt8], source: String) throws -> [Float] {
        try predictor.input(predictor.decode(bytes, source: source), source: source)
    }

    func topK(_ probabilities: [Float], k: Int) -> [(name: String, probability: Float)] {
        predictor.topK(probabilities, k: k)
    }
}
