import Foundation
import ResNetTraining

/// What a runtime needs beside the graph to use the model, as ONNX `metadata_props` (string to
/// string): the class names in output order and the preprocessing, both as JSON.
public enum ONNXMetadata {
    public static let classNamesKey = "class_names"
    public static let preprocessingKey = "preprocessing"
    public static let modelKey = "model"
    public static let batchNormKey = "batch_norm"

    /// The preprocessing as another program reads it: keys after torchvision's transforms.
    public struct PreprocessingDescription: Codable, Equatable, Sendable {
        /// "NCHW", channels in RGB order (or one gray channel).
        public var layout: String
        public var height: Int
        public var width: Int
        public var channels: Int
        /// Shorter side resized to this before a centre crop of height x width (nil: resize to height x width).
        public var resizeShorter: Int?
        public var interpolation: String
        /// pixel * rescale, then (value - mean) / std per channel.
        public var rescale: Float
        public var mean: [Float]
        public var std: [Float]
    }

    public static func description(of p: Preprocessing) -> PreprocessingDescription {
        PreprocessingDescription(layout: "NCHW", height: p.height, width: p.width, channels: p.channels, resizeShorter: p.resizeShorter,
                                 interpolation: p.resizeFilter ?? "nearest", rescale: p.rescale,
                                 mean: p.mean ?? [Float](repeating: 0, count: p.channels), std: p.std ?? [Float](repeating: 1, count: p.channels))
    }

    static func properties(_ predictor: Predictor, foldBatchNorm: Bool) -> [Onnx_StringStringEntryProto] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func json<T: Encodable>(_ value: T) -> String { String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self) }
        let pairs = [
            (modelKey, predictor.model.config.name),
            (classNamesKey, json(predictor.classNames)),
            (preprocessingKey, json(description(of: predictor.preprocessing))),
            (batchNormKey, foldBatchNorm ? "folded" : "kept"),
        ]
        return pairs.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
    }
}
