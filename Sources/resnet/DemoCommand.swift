import ArgumentParser
import ResNetEngine

/// `resnet demo`: what `make demo` runs (a stand-in until `resnet train` lands).
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Show the engine training a small network.")
    func run() throws {
        print("demo: not yet")
    }
}
