/// What `resnet export` writes.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// An ONNX model (opset 17) with class names and preprocessing in its metadata.
    case onnx
    /// The weights alone, torchvision-keyed.
    case safetensors

    /// The file extension a file of this format usually has.
    public var fileExtension: String { rawValue }
}
