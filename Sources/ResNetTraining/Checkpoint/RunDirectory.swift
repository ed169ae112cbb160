import Foundation
import ResNetData
#if canImport(Glibc)
import Glibc
#endif

/// The files of a run directory and the protocol that commits them.
///
/// A save never touches the files the committed `checkpoint.json` names: each epoch's tensors go to
/// new names (`checkpoint-epoch3.safetensors`, `optimizer-epoch3.safetensors`, `best-epoch3…`),
/// each written atomically (`AtomicFile`); then `checkpoint.json`, which names them, replaces the
/// old one in one rename: that rename is the commit. Only after it are the files no committed JSON
/// names deleted. Whatever fails, and however often, the last committed state stays whole.
/// With `--ema` the best weights are the average, so an improving epoch's `best-epochN` is a hard
/// link to its new `ema-epochN` (the same bytes, written once), made before the JSON names both.
/// `checkpoint.safetensors` and `best.safetensors` are hard links to the committed files, kept for
/// tools that expect fixed names (so a tool that rewrites one in place changes the committed file
/// too); readers here always go through the JSON and check each tensor file's recorded epoch
/// against it.
public struct RunDirectory: Sendable {
    /// The fixed name of the committed weights (a hard link) and of older runs' weights.
    public static let weightsFile = "checkpoint.safetensors"
    /// Older runs' optimizer state (new runs name it per epoch).
    public static let optimizerFile = "optimizer.safetensors"
    public static let infoFile = "checkpoint.json"
    /// The fixed name of the committed best weights (a hard link).
    public static let bestFile = "best.safetensors"
    public static let lockFile = ".lock"

    /// What a tensor file of a run holds.
    public enum Role: String, Sendable, CaseIterable {
        case weights = "checkpoint", optimizer, best
        /// The exponential moving average of the weights (`--ema`), when the run keeps one.
        case ema

        /// The fixed name users see (nil: the optimizer state has none).
        var fixedName: String? {
            switch self {
            case .weights: return RunDirectory.weightsFile
            case .best: return RunDirectory.bestFile
            case .optimizer, .ema: return nil
            }
        }
    }

    public let url: URL
    public init(_ path: String) { url = URL(fileURLWithPath: path).standardizedFileURL }

    public var weights: URL { file(Self.weightsFile) }
    public var info: URL { file(Self.infoFile) }
    public var best: URL { file(Self.bestFile) }
    public var historyCSV: URL { file("history.csv") }
    public var historySVG: URL { file("history.svg") }
    public var lock: URL { file(Self.lockFile) }

    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// The name a save of `epoch` writes `role` under.
    public static func epochFileName(_ role: Role, epoch: Int) -> String { "\(role.rawValue)-epoch\(epoch).safetensors" }

    /// Whether `name` is one of the tensor files a save writes (committed or not).
    static func isEpochFileName(_ name: String) -> Bool {
        guard name.hasSuffix(".safetensors") else { return false }
        let stem = name.dropLast(".safetensors".count)
        return Role.allCases.contains { role in
            let prefix = "\(role.rawValue)-epoch"
            return stem.hasPrefix(prefix) && !stem.dropFirst(prefix.count).isEmpty
                && stem.dropFirst(prefix.count).allSatisfy(\.isASCII) && stem.dropFirst(prefix.count).allSatisfy(\.isNumber)
        }
    }

    /// checkpoint.json holds settings and a history row per epoch: a few MB at most.
    static let maxInfoBytes = 64 << 20

    public func create() throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.checkpoint("cannot create the run directory \(url.path): \(ioReason(error))")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else {
            throw TrainingError.checkpoint("\(url.path) is not a directory")
        }
    }

    // MARK: Reading

    /// Reads and validates `checkpoint.json`: every field is checked before anything is allocated.
    public func loadInfo() throws -> CheckpointInfo {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(info.path, maxBytes: Self.maxInfoBytes)
        } catch DataError.notFound {
            throw TrainingError.checkpoint("\(info.path) not found: not a run directory of `resnet train`")
        } catch let error as DataError {
            throw TrainingError.checkpoint("\(error)")
        }
        let decoded: CheckpointInfo
        do {
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            decoded = try decoder.decode(CheckpointInfo.self, from: Data(bytes))
        } catch let e as DecodingError {
            throw TrainingError.checkpoint("\(info.path) is not a valid checkpoint description: \(Self.describe(e))")
        }
        try decoded.validate(file: info.path)
        return decoded
    }

    /// The committed file of `role`, as `info` names it (nil: none, e.g. no best epoch yet).
    public func committedFile(_ role: Role, info: CheckpointInfo) -> URL? {
        switch role {
        case .weights: return file(info.weightsFileName)
        case .optimizer: return file(info.optimizerStateFile)
        case .best: return info.bestFileName.map(file)
        case .ema: return info.emaFile.map(file)
        }
    }

    /// The epoch `info` says the file of `role` holds.
    static func expectedEpoch(_ role: Role, info: CheckpointInfo) -> Int? {
        role == .best ? info.bestEpoch : info.epoch
    }

    /// Reads the committed tensors of `role`, checked against `info`. A file whose recorded epoch
    /// differs is refused (runs written before per-epoch names may fall back to their `.prev`).
    public func loadTensors(_ role: Role, info: CheckpointInfo) throws -> [String: Tensor] {
        guard let url = committedFile(role, info: info), let epoch = Self.expectedEpoch(role, info: info) else {
            let why = role == .ema ? "the run was trained without --ema" : "no epoch has improved \(info.settings.monitor) yet"
            throw TrainingError.checkpoint("\(self.info.path) records no \(role.rawValue) file (\(why))")
        }
        let st = try SafeTensors.read(url)
        let e = st.metadata["epoch"] ?? "(none recorded)"
        if e != String(epoch) {
            // Runs saved before per-epoch names kept the last committed file as `NAME.prev`.
            let prev = url.appendingPathExtension("prev")
            if FileManager.default.fileExists(atPath: prev.path), let older = try? SafeTensors.read(prev),
               older.metadata["epoch"] == String(epoch) { return try older.tensors() }
            throw TrainingError.checkpoint("\(url.path) is from epoch \(e) but \(self.info.path) records epoch \(epoch): "
                + "it is not the committed state; restore a consistent copy of the run directory")
        }
        return try st.tensors()
    }

    /// Reads `checkpoint.json` and the committed tensors of `role` together. A writer that
    /// commits and cleans up between the two reads is met by reading the new JSON once more.
    public func loadCommitted(_ role: Role) throws -> (info: CheckpointInfo, tensors: [String: Tensor], file: URL) {
        try loadCommitted { _ in role }
    }

    /// As `loadCommitted(_:)`, with the role chosen from the JSON it reads (e.g. the EMA when the
    /// run has one): the choice and the file come from one read, never from two commits.
    public func loadCommitted(choosing choose: (CheckpointInfo) -> Role) throws -> (info: CheckpointInfo, tensors: [String: Tensor], file: URL) {
        var attempt = 0
        while true {
            let info = try loadInfo()
            let role = choose(info)
            do {
                let tensors = try loadTensors(role, info: info)
                return (info, tensors, committedFile(role, info: info)!)
            } catch let error as SafeTensorsError {
                attempt += 1
                guard attempt < 3, case .unreadable(_, _, true) = error, (try? loadInfo())?.epoch != info.epoch else { throw error }
            }
        }
    }

    /// What a path given by a user refers to: a run directory (its answer, `loadAnswer`), one of a
    /// run's own tensor files (checked against its JSON), or a file of its own.
    public enum TensorSource {
        case runDirectory(RunDirectory)
        case committed(run: RunDirectory, role: Role)
        case file(URL)
    }

    /// The committed weights a run directory answers with: the EMA of the weights when the run
    /// keeps one (what its validation measured), else the weights; `raw` asks for the weights.
    /// One read of the JSON both says whether there is an EMA and names its file.
    public func loadAnswer(raw: Bool = false) throws -> (info: CheckpointInfo, tensors: [String: Tensor], file: URL) {
        try loadCommitted { info in !raw && info.emaFile != nil ? .ema : .weights }
    }

    /// Resolves `path` for `predict`, `evaluate` and `--weights`. An uncommitted leftover of a
    /// failed save (`checkpoint-epoch5.safetensors` that the JSON does not name) is refused.
    public static func resolve(_ path: String) throws -> TensorSource {
        guard !path.isEmpty else { throw TrainingError.checkpoint("the checkpoint path is empty") }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TrainingError.checkpoint("\(path) not found")
        }
        if isDir.boolValue { return .runDirectory(RunDirectory(path)) }
        let file = URL(fileURLWithPath: path).standardizedFileURL
        let run = RunDirectory(file.deletingLastPathComponent().path)
        guard FileManager.default.fileExists(atPath: run.info.path) else { return .file(file) }
        let name = file.lastPathComponent
        let info = try run.loadInfo()
        for role in Role.allCases where name == role.fixedName || name == run.committedFile(role, info: info)?.lastPathComponent {
            return .committed(run: run, role: role)
        }
        if isEpochFileName(name) || name.hasSuffix(".prev") {
            throw TrainingError.checkpoint("\(file.path) is not part of the committed checkpoint (\(run.info.path) names "
                + "\(info.weightsFileName)\(info.bestFileName.map { " and \($0)" } ?? "")): it is left from an unfinished save")
        }
        return .file(file)
    }

    // MARK: Committing

    /// The weights a commit records as the best epoch's.
    public enum BestWeights {
        /// Tensors of their own, written to the best file.
        case tensors([String: Tensor])
        /// The moving average this commit writes (`--ema`, where validation measures it): the best
        /// file is a second name of the EMA file, so the same bytes are not written twice.
        case ema
    }

    /// Writes the tensor files of `info.epoch` under new names, then commits them by writing the
    /// JSON, then removes what the new JSON does not name. `best`: the weights to commit as the
    /// best epoch (`info.bestEpoch` must be `info.epoch`). Returns the committed description (with
    /// its file names) and warnings (a fixed-name link that could not be updated) for the user;
    /// throws, leaving the last commit whole, on any failure before the commit. `ema`: the averaged
    /// weights of `--ema`, written under their own per-epoch name and committed by the same JSON.
    @discardableResult
    public func commit(_ newInfo: CheckpointInfo, after base: Int, model: [String: Tensor], optimizer: [String: Tensor],
                       best: BestWeights?, ema: [String: Tensor]? = nil) throws -> (info: CheckpointInfo, warnings: [String]) {
        var info = newInfo
        let epoch = info.epoch
        // Compare and swap: a writer whose state is older than the directory's (another process
        // advanced it) must not replace a later commit, nor have it cleaned up.
        let old = FileManager.default.fileExists(atPath: self.info.path) ? try loadInfo() : nil
        guard (old?.epoch ?? 0) == base, epoch > base else {
            throw TrainingError.checkpoint("\(self.info.path) records epoch \(old?.epoch ?? 0), but this save of epoch \(epoch) "
                + "continues epoch \(base): another writer changed the run; resume it again")
        }
        info.weightsFile = Self.epochFileName(.weights, epoch: epoch)
        info.optimizerStateFile = Self.epochFileName(.optimizer, epoch: epoch)
        info.emaFile = ema == nil ? nil : Self.epochFileName(.ema, epoch: epoch)
        if let best {
            precondition(info.bestEpoch == epoch, "the best weights are committed with the epoch that made them")
            if case .ema = best { precondition(ema != nil, "the best weights are the EMA's, but this commit has none") }
            info.bestFile = Self.epochFileName(.best, epoch: epoch)
        }
        // Never overwrite what the committed JSON names (a save of an epoch that is already committed).
        let committed = old.map { old in Role.allCases.compactMap { committedFile($0, info: old)?.lastPathComponent } } ?? []
        for role in Role.allCases {
            if let name = committedFile(role, info: info)?.lastPathComponent, committed.contains(name), role != .best || best != nil {
                throw TrainingError.checkpoint("\(file(name).path) is part of the committed checkpoint: refusing to overwrite it")
            }
        }
        // Encoded first: a description that cannot be encoded must fail before anything is written.
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let description = try encoder.encode(info)
        let meta = ["format": "pt", "epoch": String(epoch), "model": info.modelConfig.name]
        try SafeTensors.write(model, metadata: meta, to: file(info.weightsFileName))
        try SafeTensors.write(optimizer, metadata: meta, to: file(info.optimizerStateFile))
        if let ema, let name = info.emaFile { try SafeTensors.write(ema, metadata: meta, to: file(name)) }
        switch (best, info.bestFileName, info.emaFile) {
        case let (.tensors(tensors)?, name?, _):
            try SafeTensors.write(tensors, metadata: meta, to: file(name))
        case let (.ema?, name?, emaName?):
            // A new name of the EMA file just written (its recorded epoch is the best epoch too); made
            // durable before the JSON that names it.
            try link(name, to: emaName)
            try AtomicFile.syncDirectory(url.path)
        default:
            break
        }
        try AtomicFile.write(description, to: self.info)   // the commit
        let warnings = refreshFixedNames(info)
        removeUncommitted(keeping: info)
        return (info, warnings)
    }

    /// Points `checkpoint.safetensors` and `best.safetensors` at the files `info` commits. Called
    /// after each commit, and on resume (a kill between the commit and this leaves them stale).
    /// Returns warnings for the user: the committed state itself does not depend on these names.
    @discardableResult
    public func refreshFixedNames(_ info: CheckpointInfo) -> [String] {
        var warnings: [String] = []
        for role in [Role.weights, .best] {
            guard let name = committedFile(role, info: info)?.lastPathComponent, let fixed = role.fixedName, name != fixed else { continue }
            do { try link(fixed, to: name) } catch { warnings.append("could not update \(file(fixed).path): \(error)") }
        }
        return warnings
    }

    /// Points `name` at the file `existing` names, replacing whatever `name` was in one rename (a
    /// hard link, or a copy where the filesystem has no hard links).
    private func link(_ name: String, to existing: String) throws {
        let target = file(name), source = file(existing)
        let temporary = AtomicFile.temporaryURL(for: target)
        _ = unlink(temporary.path)
        if Glibc.link(source.path, temporary.path) != 0 {
            try AtomicFile.write(Data(try FileIO.read(source.path, maxBytes: SafeTensors.maxFileBytes)), to: target)
            return
        }
        guard rename(temporary.path, target.path) == 0 else {
            let code = errno
            _ = unlink(temporary.path)
            throw AtomicFileError(operation: "rename", path: temporary.path, code: code, target: target.path)
        }
    }

    /// Deletes the tensor files and temporaries of saves that `info` (the committed JSON) does not
    /// name: leftovers of failed or killed saves and the files of earlier epochs. Only names this
    /// protocol writes are touched, and temporaries only of processes that no longer run.
    public func removeUncommitted(keeping info: CheckpointInfo) {
        let keep = Set(Role.allCases.compactMap { committedFile($0, info: info)?.lastPathComponent })
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) else { return }
        // A run saved before per-epoch names may still need its `.prev` files (its committed
        // state after a torn save): they go only once a per-epoch commit has replaced them.
        let legacy = info.weightsFile == nil ? [] : [Self.weightsFile + ".prev", Self.optimizerFile + ".prev", Self.optimizerFile]
        for name in names where !keep.contains(name) {
            let ours = Self.isEpochFileName(name) || legacy.contains(name)
            if ours || Self.isStaleTemporary(name) { _ = unlink(file(name).path) }
        }
    }

    /// `.NAME.tmp-PID` of a process that no longer runs, or of this one (no write is in flight
    /// when a commit has finished).
    static func isStaleTemporary(_ name: String) -> Bool {
        guard name.hasPrefix("."), let range = name.range(of: ".tmp-", options: .backwards),
              let pid = Int32(name[range.upperBound...]), pid > 0 else { return false }
        if pid == getpid() { return true }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// A decoding error in words: the field path and what was wrong.
    static func describe(_ error: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "" : "field \(p.hasPrefix(".") ? String(p.dropFirst()) : p): "
        }
        switch error {
        case .keyNotFound(let key, let c): return "\(path(c))missing field '\(key.stringValue)'"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): return path(c) + c.debugDescription
        @unknown default: return "\(error)"
        }
    }
}

/// The OS's words for a Foundation error (its underlying POSIX error when there is one).
func ioReason(_ error: Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    return ns.localizedDescription
}
