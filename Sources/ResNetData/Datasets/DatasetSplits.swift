import Foundation

/// Train/validation/test datasets sharing one class list, plus what scanning skipped.
/// This is what training, evaluation, `inspect` and `export` all start from.
public struct DatasetSplits: Sendable {
    public var classNames: [String]
    public var train: any ImageDataset
    public var validation: (any ImageDataset)?
    public var test: (any ImageDataset)?
    /// Files and folders left out while scanning (hidden, other extensions, stray files).
    public var skipped: [SkippedFile]
    /// How the splits were formed, for humans ("folders train/ val/ test/ as given", …).
    public var layout: String
    /// The image folder the splits were read from (nil for built-in datasets), so an export
    /// can refuse to write into its own source.
    public var sourceRoot: String?

    public init(classNames: [String], train: any ImageDataset, validation: (any ImageDataset)?, test: (any ImageDataset)?,
                skipped: [SkippedFile] = [], layout: String, sourceRoot: String? = nil) {
        self.classNames = classNames
        self.train = train
        self.validation = validation
        self.test = test
        self.skipped = skipped
        self.layout = layout
        self.sourceRoot = sourceRoot
    }

    /// The splits that exist, with their names, in train/validation/test order.
    public var named: [(name: String, dataset: any ImageDataset)] {
        var result: [(String, any ImageDataset)] = [("train", train)]
        if let validation { result.append(("validation", validation)) }
        if let test { result.append(("test", test)) }
        return result
    }

    /// Opens an image folder in either layout:
    /// root/{train,validation|val,test}/<class>/… used as given, or root/<class>/… split by
    /// `ratios` (train:validation:test, default 8:1:1) per class with `seed`.
    public static func openFolder(_ root: String, ratios: [Double] = [8, 1, 1], seed: UInt64 = 0) throws -> DatasetSplits {
        let listing = try FolderScanner.list(root, what: "data folder")
        let visibleDirs = Set(listing.filter { !$0.hasPrefix(".") && FolderScanner.isDirectory(FolderScanner.join(root, $0)) })
        if visibleDirs.contains("train") {
            return try openPresplit(root, listing: listing)
        }
        // Checked before scanning: the ratios may come from a hand-edited checkpoint, and the
        // layout text below converts them to integers.
        try StratifiedSplit.validateRatios(ratios, source: "split ratios")
        let scan = try FolderScanner.scan(root: root)
        let all = FolderDataset(classNames: scan.classNames, entries: scan.entries)
        let parts = try StratifiedSplit.split(labels: scan.entries.map(\.label), ratios: ratios, seed: seed)
        let ratioText = ratios.map { $0 == $0.rounded() ? String(Int($0)) : String($0) }.joined(separator: ":")
        return DatasetSplits(classNames: scan.classNames, train: all.subset(parts[0]),
                             validation: parts[1].isEmpty ? nil : all.subset(parts[1]),
                             test: parts[2].isEmpty ? nil : all.subset(parts[2]),
                             skipped: scan.skipped,
                             layout: "class folders split \(ratioText) per class with seed \(seed)", sourceRoot: root)
    }

    /// root/train, root/validation (or val) and root/test, each root/<split>/<class>/…
    static func openPresplit(_ root: String, listing: [String]) throws -> DatasetSplits {
        let join = FolderScanner.join
        var skipped: [SkippedFile] = []
        let hasValidation = listing.contains("validation"), hasVal = listing.contains("val")
        if hasValidation && hasVal {
            throw DataError.badLayout(path: root, reason: "has both 'validation' and 'val' folders; keep one")
        }
        let validationName = hasVal ? "val" : "validation"
        for name in listing.sorted(by: ClassNames.codePointLess) where !["train", "test", validationName].contains(name) {
            let path = join(root, name)
            let reason: SkippedFile.Reason = name.hasPrefix(".") ? .hidden : (FolderScanner.isDirectory(path) ? .notASplit : .strayFile)
            skipped.append(SkippedFile(path: path, reason: reason))
        }
        let train = try FolderScanner.scan(root: join(root, "train"))
        skipped += train.skipped
        let classNames = train.classNames
        func relabelled(_ split: String) throws -> FolderDataset? {
            let path = join(root, split)
            guard FolderScanner.isDirectory(path) else { return nil }
            let scan = try FolderScanner.scan(root: path)
            skipped += scan.skipped
            var mapping: [Int] = []
            for name in scan.classNames {
                guard let label = classNames.firstIndex(of: name) else {
                    throw DataError.badLayout(path: join(path, name), reason: "class '\(name)' does not exist in \(join(root, "train"))")
                }
                mapping.append(label)
            }
            let entries = scan.entries.map { FolderScanner.Entry(path: $0.path, label: mapping[$0.label]) }
            return FolderDataset(classNames: classNames, entries: entries)
        }
        let validation = try relabelled(validationName)
        let test = try relabelled("test")
        return DatasetSplits(classNames: classNames, train: FolderDataset(classNames: classNames, entries: train.entries),
                             validation: validation, test: test, skipped: skipped,
                             layout: "split folders (train, \(validationName), test) used as given", sourceRoot: root)
    }
}
