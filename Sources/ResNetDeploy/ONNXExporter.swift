import Foundation
import SwiftProtobuf
import ResNetTraining

/// A model as an ONNX graph (opset 17): the network is traced once (`LayerTrace`, layer by layer),
/// and each recorded operation becomes ONNX nodes with torchvision's parameter names as
/// initializers. The graph takes NCHW float input (what ONNX runtimes and torchvision's exports
/// use) with a symbolic batch dimension and returns the logits; class names and preprocessing
/// travel in `metadata_props` (`ONNXMetadata`).
public enum ONNXExporter {
    public static let opsetVersion: Int64 = 17
    /// The IR version of opset 17 (ONNX 1.12).
    public static let irVersion: Int64 = 8
    public static let inputName = "input"
    public static let outputName = "logits"
    public static let batchDimension = "batch"

    public enum ExportError: Error, CustomStringConvertible {
        case unsupported(layer: String, reason: String)
        public var description: String {
            switch self {
            case .unsupported(let layer, let reason): return "ONNX export: layer \(layer): \(reason)"
            }
        }
    }

    /// The ONNX model of `predictor`'s network. `foldBatchNorm`: each batch norm that directly
    /// follows a convolution is folded into its weights and bias (w' = w γ/σ, b' = β + (b − μ) γ/σ,
    /// in double precision); the others (v2's pre-activations) stay BatchNormalization nodes.
    public static func model(_ predictor: Predictor, foldBatchNorm: Bool) throws -> Onnx_ModelProto {
        let net = predictor.model
        let p = predictor.preprocessing
        let entries = GradMode.withoutGradient {
            LayerTrace.capture(Tensor(zeros: [1, p.height, p.width, p.channels])) { net($0) }
        }
        guard let last = entries.last, last.outputShape.count == 1 else {
            throw ExportError.unsupported(layer: net.config.name, reason: "the network does not end in logits (no global pool and classifier)")
        }
        var builder = ONNXGraphBuilder()
        let state = net.stateDict()
        var shapes: [String: [Int]] = [inputName: [p.height, p.width, p.channels]]   // NHWC, no batch
        var values: [String: String] = [inputName: inputName]                        // entry -> ONNX value
        var consumers: [String: Int] = [:]
        for e in entries { for i in e.inputs { consumers[i, default: 0] += 1 } }
        // Convolutions whose batch norm is folded into them: conv entry name -> bn entry name.
        var foldedInto: [String: String] = [:]
        let byName = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        if foldBatchNorm {
            for e in entries {
                guard case .batchNorm? = e.operation, e.inputs.count == 1, let conv = byName[e.inputs[0]],
                      case .convolution(_, _, _, _, _, false)? = conv.operation, conv.inputs.count == 1,
                      consumers[conv.name] == 1 else { continue }
                foldedInto[conv.name] = e.name
            }
        }
        let foldedBN = Set(foldedInto.values)

        func tensor(_ key: String, layer: String) throws -> Tensor {
            guard let t = state[key] else { throw ExportError.unsupported(layer: layer, reason: "no parameter \(key)") }
            return t
        }
        func input(_ e: LayerTrace.Entry, _ i: Int) throws -> String {
            guard i < e.inputs.count, let v = values[e.inputs[i]] else {
                throw ExportError.unsupported(layer: e.name, reason: "input \(i) (\(e.inputs.count > i ? e.inputs[i] : "none")) was not traced")
            }
            return v
        }
        func relu(_ x: String, _ e: LayerTrace.Entry, final: String) -> String {
            builder.node("Relu", name: "\(e.name)/relu", inputs: [x], outputs: [final])
        }

        for (index, e) in entries.enumerated() {
            let out = index == entries.count - 1 ? outputName : e.name
            guard let op = e.operation else { throw ExportError.unsupported(layer: e.name, reason: "\(e.type) has no ONNX form") }
            let x = try input(e, 0)
            let inShape = shapes[e.inputs[0]] ?? []
            switch op {
            case let .convolution(kernel, stride, padding, dilation, groups, fusedReLU):
                guard inShape.count == 3 else { throw ExportError.unsupported(layer: e.name, reason: "input of rank \(inShape.count + 1)") }
                let w = try tensor("\(e.name).weight", layer: e.name)
                var weightValues = w.toArray()
                var biasValues = state["\(e.name).bias"]?.toArray()
                // A folded convolution produces its batch norm's value (before that norm's ReLU).
                var valueName = out
                if let bnName = foldedInto[e.name], case let .batchNorm(eps, bnReLU)? = byName[bnName]?.operation {
                    (weightValues, biasValues) = try fold(weight: weightValues, outChannels: w.shape[0], bias: biasValues,
                                                          bn: bnName, state: state, layer: e.name, epsilon: eps)
                    valueName = bnReLU ? "\(bnName)/bn" : bnName
                }
                var inputs = [x, builder.floats("\(e.name).weight", shape: w.shape, weightValues)]
                if let biasValues { inputs.append(builder.floats("\(e.name).bias", shape: [biasValues.count], biasValues)) }
                let pads = resolve(padding, height: inShape[0], width: inShape[1], kernel: kernel, stride: stride, dilation: dilation)
                let attributes = [
                    ONNXGraphBuilder.attribute("kernel_shape", ints: [kernel, kernel]),
                    ONNXGraphBuilder.attribute("strides", ints: [stride, stride]),
                    ONNXGraphBuilder.attribute("dilations", ints: [dilation, dilation]),
                    ONNXGraphBuilder.attribute("group", int: groups),
                    ONNXGraphBuilder.attribute("pads", ints: pads),
                ]
                let residual = e.inputs.count > 1 ? try input(e, 1) : nil
                let convOut = residual != nil || fusedReLU ? "\(e.name)/conv" : valueName
                var h = builder.node("Conv", name: e.name, inputs: inputs, outputs: [convOut], attributes: attributes)
                if let residual {
                    h = builder.node("Add", name: "\(e.name)/add", inputs: [h, residual], outputs: [fusedReLU ? "\(e.name)/sum" : valueName])
                }
                if fusedReLU { h = relu(h, e, final: valueName) }
                values[e.name] = h
            case let .batchNorm(eps, fusedReLU):
                if foldedBN.contains(e.name) {
                    // Folded: the convolution produced this value already; only the ReLU is left.
                    values[e.name] = fusedReLU ? relu(x, e, final: out) : x
                    break
                }
                let beta = try tensor("\(e.name).bias", layer: e.name)
                let gamma = state["\(e.name).weight"]?.toArray() ?? [Float](repeating: 1, count: beta.count)
                let inputs = [x,
                              builder.floats("\(e.name).weight", shape: [gamma.count], gamma),
                              builder.floats("\(e.name).bias", shape: [beta.count], beta.toArray()),
                              builder.floats("\(e.name).running_mean", shape: [beta.count], try tensor("\(e.name).running_mean", layer: e.name).toArray()),
                              builder.floats("\(e.name).running_var", shape: [beta.count], try tensor("\(e.name).running_var", layer: e.name).toArray())]
                var h = builder.node("BatchNormalization", name: e.name, inputs: inputs, outputs: [fusedReLU ? "\(e.name)/bn" : out],
                                     attributes: [ONNXGraphBuilder.attribute("epsilon", float: eps)])
                if fusedReLU { h = relu(h, e, final: out) }
                values[e.name] = h
            case let .maxPool(kernel, stride, padding):
                guard inShape.count == 3 else { throw ExportError.unsupported(layer: e.name, reason: "input of rank \(inShape.count + 1)") }
                let pads = resolve(padding, height: inShape[0], width: inShape[1], kernel: kernel, stride: stride, dilation: 1)
                values[e.name] = builder.node("MaxPool", name: e.name, inputs: [x], outputs: [out], attributes: [
                    ONNXGraphBuilder.attribute("kernel_shape", ints: [kernel, kernel]),
                    ONNXGraphBuilder.attribute("strides", ints: [stride, stride]),
                    ONNXGraphBuilder.attribute("pads", ints: pads),
                ])
            case .globalAveragePool:
                let pooled = builder.node("GlobalAveragePool", name: e.name, inputs: [x], outputs: ["\(e.name)/nchw"])
                values[e.name] = builder.node("Flatten", name: "\(e.name)/flatten", inputs: [pooled], outputs: [out],
                                              attributes: [ONNXGraphBuilder.attribute("axis", int: 1)])
            case .dense:
                guard inShape.count == 1 else {
                    throw ExportError.unsupported(layer: e.name, reason: "a classifier on a feature map (no global pool)")
                }
                let w = try tensor("\(e.name).weight", layer: e.name)
                var inputs = [x, builder.floats("\(e.name).weight", shape: w.shape, w.toArray())]
                if let b = state["\(e.name).bias"] { inputs.append(builder.floats("\(e.name).bias", shape: b.shape, b.toArray())) }
                values[e.name] = builder.node("Gemm", name: e.name, inputs: inputs, outputs: [out],
                                              attributes: [ONNXGraphBuilder.attribute("transB", int: 1)])
            case .add(let fusedReLU):
                let h = builder.node("Add", name: e.name, inputs: [x, try input(e, 1)], outputs: [fusedReLU ? "\(e.name)/sum" : out])
                values[e.name] = fusedReLU ? relu(h, e, final: out) : h
            case let .zeroPadShortcut(channels, stride):
                guard inShape.count == 3 else { throw ExportError.unsupported(layer: e.name, reason: "input of rank \(inShape.count + 1)") }
                let s = Int64(stride)
                let sliced = builder.node("Slice", name: "\(e.name)/subsample", inputs: [
                    x, builder.int64s("\(e.name).starts", [0, 0]), builder.int64s("\(e.name).ends", [Int64.max, Int64.max]),
                    builder.int64s("\(e.name).axes", [2, 3]), builder.int64s("\(e.name).steps", [s, s]),
                ], outputs: ["\(e.name)/subsampled"])
                let extra = Int64(channels - inShape[2])
                values[e.name] = builder.node("Pad", name: e.name, inputs: [sliced, builder.int64s("\(e.name).pads", [0, 0, 0, 0, 0, extra, 0, 0])],
                                              outputs: [out])
            }
            shapes[e.name] = e.outputShape
        }

        var graph = Onnx_GraphProto()
        graph.name = net.config.name
        graph.node = builder.nodes
        graph.initializer = builder.initializers
        graph.input = [ONNXGraphBuilder.valueInfo(inputName, batch: batchDimension, shape: [p.channels, p.height, p.width])]
        graph.output = [ONNXGraphBuilder.valueInfo(outputName, batch: batchDimension, shape: last.outputShape)]

        var model = Onnx_ModelProto()
        model.irVersion = irVersion
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = opsetVersion
        model.opsetImport = [opset]
        model.producerName = "SwiftResNet"
        model.graph = graph
        model.docString = "\(net.config.name): NCHW RGB float input [batch, \(p.channels), \(p.height), \(p.width)], preprocessed as metadata 'preprocessing' says; output: logits [batch, \(last.outputShape[0])]"
        model.metadataProps = ONNXMetadata.properties(predictor, foldBatchNorm: foldBatchNorm)
        return model
    }

    /// Serialises the model of `predictor` to `url` atomically.
    public static func write(_ predictor: Predictor, foldBatchNorm: Bool, to url: URL) throws {
        let data: Data = try model(predictor, foldBatchNorm: foldBatchNorm).serializedData()
        try AtomicFile.write(data, to: url)
    }

    /// w' = w γ/σ per output channel, b' = β + (b − μ) γ/σ, σ = sqrt(var + ε), in double precision.
    private static func fold(weight: [Float], outChannels: Int, bias: [Float]?, bn: String, state: [String: Tensor],
                             layer: String, epsilon: Float) throws -> ([Float], [Float]) {
        guard let beta = state["\(bn).bias"]?.toArray(), let mean = state["\(bn).running_mean"]?.toArray(),
              let variance = state["\(bn).running_var"]?.toArray(), beta.count == outChannels else {
            throw ExportError.unsupported(layer: layer, reason: "batch norm \(bn) lacks parameters for \(outChannels) channels")
        }
        let gamma = state["\(bn).weight"]?.toArray() ?? [Float](repeating: 1, count: outChannels)
        let perChannel = weight.count / outChannels
        var w = weight
        var b = [Float](repeating: 0, count: outChannels)
        for o in 0..<outChannels {
            let scale = Double(gamma[o]) / (Double(variance[o]) + Double(epsilon)).squareRoot()
            for i in 0..<perChannel { w[o * perChannel + i] = Float(Double(weight[o * perChannel + i]) * scale) }
            b[o] = Float(Double(beta[o]) + (Double(bias?[o] ?? 0) - Double(mean[o])) * scale)
        }
        return (w, b)
    }

    /// ONNX `pads` [top, left, bottom, right] for an input of `height` x `width` (TF's 'SAME' puts
    /// the odd pixel at the end).
    static func resolve(_ padding: Padding, height: Int, width: Int, kernel: Int, stride: Int, dilation: Int) -> [Int] {
        func same(_ input: Int) -> (Int, Int) {
            let effective = (kernel - 1) * dilation + 1
            let output = (input + stride - 1) / stride
            let total = max((output - 1) * stride + effective - input, 0)
            return (total / 2, total - total / 2)
        }
        switch padding {
        case .valid: return [0, 0, 0, 0]
        case let .explicit(top, bottom, left, right): return [top, left, bottom, right]
        case .same:
            let (t, b) = same(height), (l, r) = same(width)
            return [t, l, b, r]
        }
    }
}
