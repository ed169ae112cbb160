import Foundation

/// The `SWIFTRESNET_*` tuning variables, read one way: unset gives the default, and a value that
/// does not parse is named on stderr with what was expected, then the default is used (a typo must
/// not silently pick some other behaviour).
public enum EnvironmentSetting {
    /// `parse(value of name)`, or `fallback` (shown as `fallbackText` in the warning).
    public static func read<T>(_ name: String, fallback: T, fallbackText: String, expected: String,
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               warn: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) },
                               parse: (String) -> T?) -> T {
        guard let text = environment[name] else { return fallback }
        if let value = parse(text) { return value }
        warn("warning: \(name)=\(text) is not \(expected); using \(fallbackText)")
        return fallback
    }
}
