import Foundation
import ResNetData
import ResNetModels

/// `--classes FILE`: one class name per line, in the classifier's output order (torchvision's
/// `categories`, Keras's `class_names`). Blank lines at the end are ignored; any other blank line,
/// or a name given twice, is an error naming the file and line.
public enum ClassNamesFile {
    /// 100,000 names of up to a few hundred bytes each.
    static let maxBytes = 64 << 20

    public static func read(_ path: String) throws -> [String] {
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path, maxBytes: maxBytes) } catch {
            throw TrainingError.invalidOption("--classes \(path): \(error)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TrainingError.invalidOption("--classes \(path): not UTF-8 text")
        }
        // "\r\n" is one Character in Swift: both line ends split.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
        while lines.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { lines.removeLast() }
        guard !lines.isEmpty else { throw TrainingError.invalidOption("--classes \(path): no class names (one per line)") }
        guard lines.count <= ResNetConfig.maxClasses else {
            throw TrainingError.invalidOption("--classes \(path): \(lines.count) names, at most \(ResNetConfig.maxClasses)")
        }
        var seen: [String: Int] = [:]
        for (i, raw) in lines.enumerated() {
            let name = raw.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { throw TrainingError.invalidOption("--classes \(path): line \(i + 1) is blank") }
            if let first = seen[name] {
                throw TrainingError.invalidOption("--classes \(path): line \(i + 1) repeats '\(name)' of line \(first + 1)")
            }
            seen[name] = i
        }
        return lines.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
