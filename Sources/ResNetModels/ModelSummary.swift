import Foundation
import ResNetEngine
import ResNetLayers

/// What `resnet summary` prints: Keras's `model.summary()` table, the totals as torchvision and
/// Keras count them, and the forward FLOPs; or a Graphviz graph, as Keras's `plot_model`.
public struct ModelSummary: Sendable {
    public let modelName: String
    public let inputShape: [Int]
    public let layers: [LayerTrace.Entry]
    /// torchvision's count: `sum(p.numel() for p in model.parameters())`.
    public let trainableParameters: Int
    /// Batch-norm moving mean and variance, which Keras adds to its total.
    public let nonTrainableParameters: Int

    public var totalParameters: Int { trainableParameters + nonTrainableParameters }
    /// Forward FLOPs for one image (a multiply-add counts as 2).
    public var flops: Int { layers.reduce(0) { $0 + $1.flops } }

    /// The Keras-style table.
    public func table() -> String {
        let columns = [44, 22, 13, 0]
        var lines = ["Model: \"\(modelName)\"", String(repeating: "_", count: 110)]
        lines.append(row(["Layer (type)", "Output Shape", "Param #", "Connected to"], columns))
        lines.append(String(repeating: "=", count: 110))
        lines.append(row(["input (InputLayer)", shapeText(inputShape), "0", ""], columns))
        for (i, l) in layers.enumerated() {
            let previous = i == 0 ? "input" : layers[i - 1].name
            let connected = l.inputs == [previous] ? "" : l.inputs.joined(separator: ", ")
            lines.append(row(["\(l.name) (\(l.type))", shapeText(l.outputShape),
                              grouped(l.trainableParameters + l.nonTrainableParameters), connected], columns))
        }
        lines.append(String(repeating: "=", count: 110))
        lines.append("Total params: \(grouped(totalParameters)) (with batch-norm moving mean and variance, as Keras counts)")
        lines.append("Trainable params: \(grouped(trainableParameters)) (as torchvision counts)")
        lines.append("Non-trainable params: \(grouped(nonTrainableParameters))")
        lines.append(String(format: "Forward FLOPs per image: %@ (%.2f GFLOPs; a multiply-add counts 2)", grouped(flops), Double(flops) / 1e9))
        lines.append(String(repeating: "_", count: 110))
        return lines.joined(separator: "\n")
    }

    /// A Graphviz digraph: one node per layer (name, type, output shape), edges along the data flow.
    public func dot() -> String {
        func id(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "'") + "\"" }
        var out = ["digraph \"\(modelName)\" {", "  rankdir=TB;", "  node [shape=record, fontname=\"Helvetica\", fontsize=10];"]
        out.append("  \(id("input")) [label=\"{input|InputLayer|\(shapeText(inputShape))}\"];")
        for l in layers {
            out.append("  \(id(l.name)) [label=\"{\(l.name)|\(l.type)|\(shapeText(l.outputShape))}\"];")
            for source in l.inputs { out.append("  \(id(source)) -> \(id(l.name));") }
        }
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }

    private func row(_ cells: [String], _ widths: [Int]) -> String {
        " " + zip(cells, widths).map { cell, w in
            w == 0 ? cell : cell.padding(toLength: max(w, cell.count + 1), withPad: " ", startingAt: 0)
        }.joined()
    }

    private func shapeText(_ shape: [Int]) -> String { "(None, " + shape.map(String.init).joined(separator: ", ") + ")" }
}

/// 25557032 -> "25,557,032".
public func grouped(_ n: Int) -> String {
    let digits = String(abs(n))
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}

extension ResNet {
    /// Traces one inference forward pass of a single `imageSize` x `imageSize` image, after
    /// `ResNetConfig.validateInput` accepted the size: the form for sizes a user chose.
    public func checkedSummary(imageSize: Int) throws -> ModelSummary {
        try config.validateInput(height: imageSize, width: imageSize)
        return summary(imageSize: imageSize)
    }

    /// Traces one inference forward pass of a single `imageSize` x `imageSize` image. The size must
    /// pass `ResNetConfig.validateInput` (`checkedSummary` throws where this traps).
    public func summary(imageSize: Int) -> ModelSummary {
        precondition((try? config.validateInput(height: imageSize, width: imageSize)) != nil,
                     "image size \(imageSize) is outside \(ResNetConfig.minInputSize)...\(ResNetConfig.maxInputSize) for \(config.name)")
        let wasTraining = isTraining
        eval()
        defer { train(wasTraining) }
        let input = Tensor(zeros: [1, imageSize, imageSize, config.inputChannels])
        let entries = LayerTrace.capture(input) { self($0) }
        let trainable = namedParameters.reduce(0) { $0 + $1.tensor.count }
        let moving = namedBuffers.filter { !$0.name.hasSuffix("num_batches_tracked") }.reduce(0) { $0 + $1.tensor.count }
        return ModelSummary(modelName: config.name, inputShape: [imageSize, imageSize, config.inputChannels], layers: entries,
                            trainableParameters: trainable, nonTrainableParameters: moving)
    }
}
