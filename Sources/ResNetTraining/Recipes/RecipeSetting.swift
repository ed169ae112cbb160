/// One choice a recipe makes, as the option that would make it (`--lr 0.01`), so a recipe can be
/// listed as the command line it stands for and explicit options can override it.
public struct RecipeSetting: Sendable {
    /// The option, e.g. "--lr".
    public let option: String
    /// Its value as typed ("" for a flag).
    public let value: String
    let apply: @Sendable (inout TrainingSettings) -> Void

    public init(option: String, value: String, apply: @escaping @Sendable (inout TrainingSettings) -> Void) {
        self.option = option
        self.value = value
        self.apply = apply
    }

    /// Sets the field at `keyPath` to `value`.
    public static func set<V: Sendable & CustomStringConvertible>(_ option: String, _ keyPath: WritableKeyPath<TrainingSettings, V> & Sendable,
                                                                  _ value: V) -> RecipeSetting {
        RecipeSetting(option: option, value: "\(value)") { $0[keyPath: keyPath] = value }
    }

    /// Sets the optional field at `keyPath` to `value`.
    public static func set<V: Sendable & CustomStringConvertible>(_ option: String, _ keyPath: WritableKeyPath<TrainingSettings, V?> & Sendable,
                                                                  _ value: V) -> RecipeSetting {
        RecipeSetting(option: option, value: "\(value)") { $0[keyPath: keyPath] = value }
    }

    /// The option as it would be typed.
    public var commandLine: String { value.isEmpty ? option : "\(option) \(value)" }
}
