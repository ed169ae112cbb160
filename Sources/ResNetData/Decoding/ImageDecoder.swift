/// Entry point for decoding: sniffs the format and hands the bytes to the matching wrapper,
/// always returning 1 or 3 channels as asked.
public enum ImageDecoder {
    /// Largest image accepted (pixels); guards against headers that claim absurd sizes.
    public static let maxPixels = 1 << 28

    /// Decodes an image file. Errors name `path` and the decoder's reason.
    public static func decode(file path: String, channels: Int, sizeHint: DecodeSizeHint = .fullSize) throws -> PixelImage {
        let bytes = try FileIO.read(path)
        return try decode(bytes, channels: channels, sizeHint: sizeHint, source: path)
    }

    /// Decodes in-memory bytes; `source` is the name used in errors.
    public static func decode(_ bytes: [UInt8], channels: Int, sizeHint: DecodeSizeHint = .fullSize,
                              source: String = "<memory>") throws -> PixelImage {
        guard channels == 1 || channels == 3 else {
            throw DataError.invalidArgument("channels must be 1 or 3, got \(channels)")
        }
        if bytes.isEmpty { throw DataError.unsupportedFormat(path: source, reason: "file is empty") }
        switch ImageFormat.sniff(bytes) {
        case .jpeg?: return try JPEGCodec.decode(bytes, channels: channels, sizeHint: sizeHint, source: source)
        case .png?: return try PNGCodec.decode(bytes, channels: channels, source: source)
        case .pnm?: return try PNMCodec.decode(bytes, channels: channels, source: source)
        case nil:
            let head = bytes.prefix(4).map { String(format2: $0) }.joined(separator: " ")
            throw DataError.unsupportedFormat(path: source, reason: "not a JPEG, PNG or binary PPM/PGM file (starts with \(head))")
        }
    }

    /// Checks decoded dimensions before allocating.
    static func checkSize(width: Int, height: Int, format: ImageFormat, source: String) throws {
        guard width > 0, height > 0 else {
            throw DataError.corruptImage(path: source, format: format.rawValue, reason: "image has size \(width)x\(height)")
        }
        guard width <= maxPixels / height else {
            throw DataError.corruptImage(path: source, format: format.rawValue,
                                         reason: "image is \(width)x\(height), larger than the \(maxPixels)-pixel limit")
        }
    }
}

extension String {
    /// Two-digit hex of a byte (for error messages about magic numbers).
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
