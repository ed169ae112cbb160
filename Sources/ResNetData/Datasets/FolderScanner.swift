import Foundation

/// A file or folder the scanner left out, and why; `inspect` lists them so users see
/// exactly what the loader sees.
public struct SkippedFile: Sendable, Equatable {
    public enum Reason: String, Sendable {
        case hidden = "hidden"
        case notAnImage = "not an image extension"
        case strayFile = "file outside a class folder"
        case notASplit = "folder is not train/validation/val/test"
    }
    public var path: String
    public var reason: Reason
}

/// Scans root/<class>/<image> trees the way Keras's `flow_from_directory` does, minus its
/// known traps: hidden entries (.DS_Store, .ipynb_checkpoints) are never classes or images.
public enum FolderScanner {
    /// One image found on disk.
    public struct Entry: Sendable, Equatable {
        public var path: String
        public var label: Int
    }

    /// The result of scanning one root/<class>/… tree.
    public struct Result: Sendable {
        public var classNames: [String]
        public var entries: [Entry]
        public var skipped: [SkippedFile]
    }

    /// Scans `root`: classes are its non-hidden subfolders in code-point order; images are files
    /// with an image extension (any case) anywhere below a class folder, in path order.
    /// An empty class, a root without classes, or an unreadable file is an error naming the path.
    public static func scan(root: String) throws -> Result {
        var skipped: [SkippedFile] = []
        let listing = try list(root, what: "data folder")
        var classNames: [String] = []
        for name in listing.sorted(by: ClassNames.codePointLess) {
            let path = join(root, name)
            if name.hasPrefix(".") { skipped.append(SkippedFile(path: path, reason: .hidden)); continue }
            if isDirectory(path) { classNames.append(name) } else { skipped.append(SkippedFile(path: path, reason: .strayFile)) }
        }
        guard !classNames.isEmpty else {
            throw DataError.badLayout(path: root, reason: "no class folders found (expected root/<class>/<image files>)")
        }
        var entries: [Entry] = []
        for (label, name) in classNames.enumerated() {
            let classPath = join(root, name)
            let before = entries.count
            try collectImages(in: classPath, label: label, depth: 0, entries: &entries, skipped: &skipped)
            if entries.count == before {
                throw DataError.badLayout(path: classPath, reason: "class folder '\(name)' contains no images (.jpg, .jpeg, .png, .ppm, .pgm)")
            }
        }
        return Result(classNames: classNames, entries: entries, skipped: skipped)
    }

    static func collectImages(in folder: String, label: Int, depth: Int, entries: inout [Entry], skipped: inout [SkippedFile]) throws {
        // Symlink loops would recurse forever; real class folders are never this deep.
        guard depth < 32 else { throw DataError.badLayout(path: folder, reason: "folders nested more than 32 levels (a symlink loop?)") }
        for name in try list(folder, what: "class folder").sorted(by: ClassNames.codePointLess) {
            let path = join(folder, name)
            if name.hasPrefix(".") { skipped.append(SkippedFile(path: path, reason: .hidden)); continue }
            if isDirectory(path) {
                try collectImages(in: path, label: label, depth: depth + 1, entries: &entries, skipped: &skipped)
                continue
            }
            let ext = (name as NSString).pathExtension.lowercased()
            guard ImageFormat.extensions.contains(ext) else { skipped.append(SkippedFile(path: path, reason: .notAnImage)); continue }
            // A dangling symbolic link is an unreadable image like a corrupt one: kept, so the
            // loader skips it with a warning (or stops in strict mode) instead of the scan failing.
            if FileIO.danglingLinkTarget(path) == nil, let reason = FileIO.unreadableReason(path) {
                throw DataError.unreadable(path: path, reason: reason)
            }
            entries.append(Entry(path: path, label: label))
        }
    }

    /// Directory listing with errors that name the path and the OS's reason.
    static func list(_ path: String, what: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw DataError.notFound(path: path, what: what)
        }
        guard isDir.boolValue else { throw DataError.badLayout(path: path, reason: "is a file, expected a folder") }
        return try FileIO.listDirectory(path)
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    static func join(_ a: String, _ b: String) -> String { a.hasSuffix("/") ? a + b : a + "/" + b }
}
