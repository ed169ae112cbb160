/// Image formats the pipeline decodes, recognised by their magic bytes rather than the
/// file extension (a `.jpg` that is really a PNG still loads).
public enum ImageFormat: String, Sendable, CaseIterable {
    case jpeg = "JPEG", png = "PNG", pnm = "PPM/PGM"

    /// File extensions (lower case) that folder datasets treat as images.
    public static let extensions: Set<String> = ["jpg", "jpeg", "jpe", "png", "ppm", "pgm", "pnm"]

    /// Identifies the format from the first bytes, or nil.
    public static func sniff(_ bytes: [UInt8]) -> ImageFormat? {
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8 && bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.count >= 2 && bytes[0] == UInt8(ascii: "P") && (bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "6")) { return .pnm }
        return nil
    }
}

/// How large the decoded image must stay, so a JPEG decoder may use DCT scaling
/// (decoding at 1/2, 1/4 or 1/8 size is several times faster than full size).
public enum DecodeSizeHint: Sendable, Equatable {
    /// Decode at full size.
    case fullSize
    /// Both dimensions must stay at least this large.
    case atLeast(width: Int, height: Int)
    /// The shorter side must stay at least this large.
    case shorterSideAtLeast(Int)

    /// Whether a `w` x `h` decode still satisfies the hint.
    func accepts(width w: Int, height h: Int) -> Bool {
        switch self {
        case .fullSize: return false
        case let .atLeast(width, height): return w >= width && h >= height
        case let .shorterSideAtLeast(side): return min(w, h) >= side
        }
    }
}
