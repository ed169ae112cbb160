import Foundation
import ResNetData
#if canImport(Glibc)
import Glibc
#endif

/// Writes one CSV row per epoch, as Keras's `CSVLogger` callback:
///
///     epoch,acc,loss,lr,top5,val_acc,val_loss,val_top5
///     0,0.412,1.873,0.1,0.802,0.455,1.702,0.834
///
/// The columns are `epoch` then the metric names of the first logged epoch, sorted (byte order, as
/// Python's `sorted`). Values are written in Swift's shortest round-tripping form (`0.1`, `1e-05`,
/// `nan`), so `read` gives back exactly the logged doubles; the epoch is written as an integer.
/// Each row is written straight to the file (unbuffered `write`) before `log` returns, so a crash
/// loses at most the epoch in progress.
///
/// With `append: true` an existing non-empty file is continued: its header is kept, and the first
/// `log` checks that the metric names match it (else `CSVLoggerError.columnMismatch`). Later epochs
/// must carry the same names; a name that was not in the header is an error, a missing one is
/// written as an empty field (which `read` leaves out of that row).
public final class CSVLogger {
    public let url: URL
    public let separator: Character
    /// `epoch` then the metric names; nil until the first row (or read from the file when appending).
    public private(set) var columns: [String]?
    private var handle: FileHandle?

    /// - Parameters:
    ///   - append: continue an existing file instead of replacing it (for resuming).
    ///   - keepingEpochsThrough: when appending, first drop the rows whose epoch is greater (the
    ///     epochs after the checkpoint being resumed, which will be trained again).
    public init(url: URL, append: Bool = false, separator: Character = ",",
                keepingEpochsThrough lastKeptEpoch: Int? = nil) throws {
        self.url = url
        self.separator = separator
        // Foundation's file errors say neither the file nor the reason in words: name both.
        do {
            let fm = FileManager.default
            if append, fm.fileExists(atPath: url.path) {
                let text = String(decoding: try FileIO.read(url.path), as: UTF8.self)
                let records = CSVLogger.parse(text, separator: separator)
                if let header = records.first, !(header.count == 1 && header[0].isEmpty) {
                    guard header.first == "epoch" else {
                        throw CSVLoggerError.malformed(url: url, line: 1, reason: "the header does not start with \"epoch\"")
                    }
                    columns = header
                    if let lastKeptEpoch {
                        var kept = [header]
                        for record in records.dropFirst() where !(record.count == 1 && record[0].isEmpty) {
                            if let epoch = Double(record[0]), epoch > Double(lastKeptEpoch) { continue }
                            kept.append(record)
                        }
                        let rewritten = kept.map { CSVLogger.line($0, separator: separator) }.joined()
                        try AtomicFile.write(Data(rewritten.utf8), to: url)
                    } else if !text.isEmpty, !text.hasSuffix("\n") {
                        try CSVLogger.appendData(Data("\n".utf8), to: url)
                    }
                }
            } else {
                // unlink, not removeItem: a directory in its place is an error, never deleted with its contents.
                if fm.fileExists(atPath: url.path), unlink(url.path) != 0 {
                    throw CSVLoggerError.io(url: url, reason: String(cString: strerror(errno)))
                }
            }
            if !fm.fileExists(atPath: url.path) {
                guard fm.createFile(atPath: url.path, contents: nil) else {
                    throw CSVLoggerError.cannotOpen(url: url)
                }
            }
            if columns == nil {
                // An empty file being appended to: start over with a header.
                try Data().write(to: url)
            }
            guard let handle = try? FileHandle(forWritingTo: url) else { throw CSVLoggerError.cannotOpen(url: url) }
            try handle.seekToEnd()
            self.handle = handle
        } catch let error as CSVLoggerError {
            throw error
        } catch let error as AtomicFileError {
            throw error
        } catch let error as DataError {
            throw error
        } catch {
            throw CSVLoggerError.io(url: url, reason: ioReason(error))
        }
    }

    deinit { try? handle?.close() }

    /// Appends the row for `epoch` (writing the header first on a new file).
    public func log(epoch: Int, metrics: [String: Double]) throws {
        guard let handle else { throw CSVLoggerError.closed(url: url) }
        var text = ""
        let names: [String]
        if let columns {
            names = Array(columns.dropFirst())
            let given = metrics.keys.sorted()
            if let unexpected = given.first(where: { !names.contains($0) }) {
                // The first row of a resumed file must match exactly; later rows may only omit names.
                throw CSVLoggerError.columnMismatch(url: url, existing: columns, new: ["epoch"] + given,
                                                    unexpected: unexpected)
            }
            if !wroteRow, given != names {
                throw CSVLoggerError.columnMismatch(url: url, existing: columns, new: ["epoch"] + given,
                                                    unexpected: nil)
            }
        } else {
            names = metrics.keys.sorted()
            guard !names.contains("epoch") else {
                throw CSVLoggerError.columnMismatch(url: url, existing: [], new: ["epoch"] + names, unexpected: "epoch")
            }
            columns = ["epoch"] + names
            text += CSVLogger.line(columns!, separator: separator)
        }
        text += CSVLogger.line([String(epoch)] + names.map { metrics[$0].map(CSVLogger.format) ?? "" },
                               separator: separator)
        do { try handle.write(contentsOf: Data(text.utf8)) } catch { throw CSVLoggerError.io(url: url, reason: ioReason(error)) }
        wroteRow = true
    }

    private var wroteRow = false

    /// Closes the file; later `log` calls throw.
    public func close() {
        try? handle?.close()
        handle = nil
    }

    /// The rows of a file written by `CSVLogger` (or Keras), as dictionaries from column name to value,
    /// `epoch` included. Empty and `NA` fields are left out; `nan`, `inf`, `-inf` read as such.
    public static func read(url: URL, separator: Character = ",") throws -> [[String: Double]] {
        let text = try String(contentsOf: url, encoding: .utf8)
        let records = parse(text, separator: separator)
        guard let header = records.first, !(header.count == 1 && header[0].isEmpty) else { return [] }
        var rows: [[String: Double]] = []
        for (index, record) in records.enumerated().dropFirst() {
            if record.count == 1 && record[0].isEmpty { continue } // blank line
            guard record.count == header.count else {
                throw CSVLoggerError.malformed(url: url, line: index + 1,
                                               reason: "\(record.count) fields for \(header.count) columns")
            }
            var row: [String: Double] = [:]
            for (name, field) in zip(header, record) {
                let trimmed = field.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed == "NA" { continue }
                guard let value = parseDouble(trimmed) else {
                    throw CSVLoggerError.malformed(url: url, line: index + 1,
                                                   reason: "\"\(trimmed)\" in column \(name) is not a number")
                }
                row[name] = value
            }
            rows.append(row)
        }
        return rows
    }

    // MARK: - Text

    static func format(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        return "\(value)" // shortest round-trip form: 0.1, 1e-05, 100.0, inf, -inf
    }

    static func parseDouble(_ text: String) -> Double? {
        switch text.lowercased() {
        case "nan", "+nan", "-nan": return .nan
        case "inf", "+inf", "infinity", "+infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        default: return Double(text)
        }
    }

    static func line(_ fields: [String], separator: Character) -> String {
        fields.map { field in
            if field.contains(separator) || field.contains("\"") || field.contains("\n") || field.contains("\r") {
                return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            }
            return field
        }.joined(separator: String(separator)) + "\n"
    }

    /// RFC 4180 records: quoted fields may hold separators, doubled quotes and newlines; "\r\n" ends
    /// a record like "\n". A final line without a newline is a record.
    static func parse(_ text: String, separator: Character) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var iterator = text.makeIterator()
        var pending: Character? = nil
        var any = false
        while let c = pending ?? iterator.next() {
            pending = nil
            any = true
            if quoted {
                if c == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { field.append("\"") } else { quoted = false; pending = next }
                    } else { quoted = false }
                } else {
                    field.append(c)
                }
            } else if c == "\"" && field.isEmpty {
                quoted = true
            } else if c == separator {
                record.append(field); field = ""
            } else if c == "\n" || c == "\r\n" || c == "\r" {
                record.append(field); field = ""
                records.append(record); record = []
                any = false
            } else {
                field.append(c)
            }
        }
        if any { record.append(field); records.append(record) }
        return records
    }

    static func appendData(_ data: Data, to url: URL) throws {
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: data)
    }
}

public enum CSVLoggerError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The metric names differ from the columns of the file being appended to.
    case columnMismatch(url: URL, existing: [String], new: [String], unexpected: String?)
    case malformed(url: URL, line: Int, reason: String)
    case cannotOpen(url: URL)
    case closed(url: URL)
    /// Reading or writing the file failed; `reason` is the OS's.
    case io(url: URL, reason: String)

    public var description: String {
        switch self {
        case let .columnMismatch(url, existing, new, unexpected):
            if existing.isEmpty, let unexpected {
                return "CSV log \(url.path): \"\(unexpected)\" is reserved for the epoch column"
            }
            let missing = existing.filter { !new.contains($0) }
            let added = new.filter { !existing.contains($0) }
            var text = "CSV log \(url.path) has columns \(existing.joined(separator: ",")) but the metrics give "
                + new.joined(separator: ",")
            if !added.isEmpty { text += " (not in the file: \(added.joined(separator: ", ")))" }
            if !missing.isEmpty { text += " (missing: \(missing.joined(separator: ", ")))" }
            if unexpected != nil || !added.isEmpty || !missing.isEmpty {
                text += "; log to a new file or start without appending"
            }
            return text
        case let .malformed(url, line, reason):
            return "CSV log \(url.path), line \(line): \(reason)"
        case let .cannotOpen(url):
            return "cannot open CSV log \(url.path) for writing"
        case let .closed(url):
            return "CSV log \(url.path) is closed"
        case let .io(url, reason):
            return "cannot write CSV log \(url.path): \(reason)"
        }
    }

    public var errorDescription: String? { description }
}
