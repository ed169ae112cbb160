import ArgumentParser

/// The `resnet` tool: one command for training, evaluating, benchmarking and inspecting ResNets.
@main
struct ResNetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resnet",
        abstract: "Train, run and benchmark residual networks from Swift, on oneDNN.",
        subcommands: [TrainCommand.self, EvaluateCommand.self, PredictCommand.self, ServeCommand.self, ExportCommand.self, BenchmarkCommand.self, SummaryCommand.self, DataCommand.self, InfoCommand.self],
        defaultSubcommand: nil)
}
