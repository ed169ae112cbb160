/// `--recipe NAME`: a named preset of training settings. It is applied to the defaults before the
/// command line's own options, so every option given explicitly wins over the recipe's value.
public struct Recipe: Sendable {
    public let name: String
    /// What it is for, in a line.
    public let summary: String
    public let settings: [RecipeSetting]

    public init(name: String, summary: String, settings: [RecipeSetting]) {
        self.name = name
        self.summary = summary
        self.settings = settings
    }

    /// Fills `settings` with the recipe's choices and records its name.
    public func apply(to settings: inout TrainingSettings) {
        for setting in self.settings { setting.apply(&settings) }
        settings.recipe = name
    }

    /// The options the recipe stands for, as one would type them.
    public var commandLine: String { settings.map(\.commandLine).joined(separator: " ") }
}
