import ArgumentParser
import Foundation
import ResNetModels

/// `resnet summary`: Keras's `model.summary()` for any registered ResNet, or its Graphviz graph.
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Print a model's layers, output shapes, parameter counts and FLOPs.",
        discussion: "Models: \(ResNetRegistry.names.joined(separator: ", ")).")

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, dot }

    @Option(help: "Registered model name.") var model = "resnet50"
    @Option(help: "Number of classes (default: the model's own, 1000 or 10 for CIFAR nets).") var classes: Int?
    @Option(help: "Square input size in pixels (default 224, 32 for CIFAR nets).") var imageSize: Int?
    @Option(help: "Input channels (1 for grayscale).") var channels: Int?
    @Option(help: "Shortcut option from the paper: a, b or c.") var shortcut: String?
    @Option(help: "Output stride 8 or 16 turns later strides into atrous convolutions.") var outputStride: Int?
    @Option(help: "text (a Keras-style table) or dot (Graphviz).") var format: Format = .text

    func run() throws {
        var config = try ResNetRegistry.config(model)
        if let classes { config.numClasses = classes }
        if let channels { config.inputChannels = channels }
        if let outputStride { config.outputStride = outputStride }
        if let shortcut {
            guard let s = ResNetConfig.Shortcut(rawValue: shortcut.lowercased()) else {
                throw ValidationError("--shortcut must be a, b or c (got '\(shortcut)')")
            }
            config.shortcut = s
        }
        let size = imageSize ?? (config.stem == .cifar ? 32 : 224)
        // Every option is checked before a parameter or activation is allocated.
        do { try config.validateInput(height: size, width: size) } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
        let net = try ResNet(config)
        let summary = try net.checkedSummary(imageSize: size)
        print(format == .dot ? summary.dot() : summary.table(), terminator: format == .dot ? "" : "\n")
    }
}
