import ArgumentParser
import Foundation
import ResNetDeploy
import ResNetTraining

/// `resnet export`: a run's model or published weights as an ONNX model or a plain safetensors file.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model as ONNX (opset 17, dynamic batch) or as torchvision-keyed safetensors.")

    @OptionGroup var source: ModelSourceOptions
    @Option(help: "onnx or safetensors.") var format: ExportFormat
    @Option(help: "The file to write (replaced atomically).") var out: String
    @Flag(inversion: .prefixedNo, help: "ONNX: fold each batch norm that follows a convolution into its weights (--no-fold-bn keeps BatchNormalization nodes).")
    var foldBn = true

    func validate() throws {
        guard !out.isEmpty else { throw ValidationError("--out must not be empty") }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDir), isDir.boolValue {
            throw ValidationError("--out \(out) is a directory; give a file name")
        }
        let parent = URL(fileURLWithPath: out).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue else {
            throw ValidationError("--out \(out): the directory \(parent) does not exist")
        }
    }

    func run() throws {
        do {
            let predictor = try Predictor(source.source)
            let url = URL(fileURLWithPath: out)
            switch format {
            case .onnx: try ONNXExporter.write(predictor, foldBatchNorm: foldBn, to: url)
            case .safetensors: try SafeTensorsExporter.write(predictor, to: url)
            }
            let bytes = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
            let what = format == .onnx ? "ONNX opset \(ONNXExporter.opsetVersion), batch norm \(foldBn ? "folded" : "kept")" : "safetensors"
            print("wrote \(out) (\(predictor.model.config.name), \(predictor.classNames.count) classes, \(what), \(bytes) bytes)")
        } catch let e as ValidationError {
            throw e
        } catch {
            throw CleanExit.failure("\(error)")
        }
    }
}

extension ExportFormat: ExpressibleByArgument {}
