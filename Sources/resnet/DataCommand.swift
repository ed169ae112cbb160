import ArgumentParser
import ResNetData

/// `resnet data …`: dataset utilities (placeholder until the data pipeline lands).
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data", abstract: "Dataset utilities.")
}
