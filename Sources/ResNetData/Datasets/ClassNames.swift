/// Class-name helpers: datasets keep the original names (they go into checkpoints), while
/// folders on disk need names without path separators or other awkward characters.
public enum ClassNames {
    /// Makes a class name safe as a folder name: anything other than letters, digits, '-', '_'
    /// and '.' becomes '_' ("T-shirt/top" → "T-shirt_top", "Ankle boot" → "Ankle_boot");
    /// a leading '.' is replaced too so the folder is not hidden.
    public static func folderSafe(_ name: String) -> String {
        var result = ""
        for ch in name {
            if ch.isLetter || ch.isNumber || ch == "-" || ch == "_" || ch == "." { result.append(ch) } else { result.append("_") }
        }
        if result.hasPrefix(".") { result = "_" + result.dropFirst() }
        return result.isEmpty ? "_" : result
    }

    /// Code-point (UTF-8 byte) order: the same order Python's `sorted()` gives Keras, and
    /// independent of locale and Unicode normalisation quirks.
    public static func codePointLess(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
