/// Binary PGM (P5) and PPM (P6), parsed by hand: the format is tiny and every read is
/// bounds-checked, so a malformed header gives a message instead of a crash.
public enum PNMCodec {
    /// Decodes P5/P6 bytes to 1 or 3 channels. Maxval other than 255 is rescaled to 0…255.
    public static func decode(_ bytes: [UInt8], channels: Int, source: String) throws -> PixelImage {
        func fail(_ reason: String) -> DataError { .corruptImage(path: source, format: "PPM/PGM", reason: reason) }
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "6") else {
            throw fail("expected a P5 or P6 header")
        }
        let fileChannels = bytes[1] == UInt8(ascii: "5") ? 1 : 3
        var pos = 2
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }
        func readNumber(_ name: String) throws -> Int {
            // Skip whitespace and '#' comments that may sit between header fields.
            while pos < bytes.count {
                if isSpace(bytes[pos]) { pos += 1 }
                else if bytes[pos] == UInt8(ascii: "#") { while pos < bytes.count && bytes[pos] != 0x0A { pos += 1 } }
                else { break }
            }
            var value = 0, digits = 0
            while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 {
                value = value * 10 + Int(bytes[pos] - 0x30)
                digits += 1
                pos += 1
                if value > 1 << 30 { throw fail("\(name) is too large") }
            }
            if digits == 0 { throw fail("header ends before the \(name)") }
            return value
        }
        let width = try readNumber("width")
        let height = try readNumber("height")
        let maxval = try readNumber("maximum value")
        guard maxval >= 1 && maxval <= 65535 else { throw fail("maximum value \(maxval) is outside 1…65535") }
        guard pos < bytes.count, isSpace(bytes[pos]) else { throw fail("no whitespace after the header") }
        pos += 1
        try ImageDecoder.checkSize(width: width, height: height, format: .pnm, source: source)
        let samples = width * height * fileChannels
        let bytesPerSample = maxval > 255 ? 2 : 1
        let available = bytes.count - pos
        guard available >= samples * bytesPerSample else {
            throw fail("truncated: \(width)x\(height) needs \(samples * bytesPerSample) bytes of pixels, found \(available)")
        }
        var pixels = [UInt8](repeating: 0, count: samples)
        if bytesPerSample == 1 && maxval == 255 {
            pixels.withUnsafeMutableBufferPointer { dst in
                bytes.withUnsafeBufferPointer { src in
                    for i in 0..<samples { dst[i] = src[pos + i] }
                }
            }
        } else {
            for i in 0..<samples {
                let raw = bytesPerSample == 1 ? Int(bytes[pos + i])
                    : Int(bytes[pos + 2 * i]) << 8 | Int(bytes[pos + 2 * i + 1])
                pixels[i] = UInt8((min(raw, maxval) * 255 + maxval / 2) / maxval)
            }
        }
        pixels = ColorConversion.convert(pixels, pixelCount: width * height, from: fileChannels, to: channels)
        return PixelImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Encodes a 1-channel image as P5 or a 3-channel image as P6 (maxval 255).
    public static func encode(_ image: PixelImage) throws -> [UInt8] {
        guard image.channels == 1 || image.channels == 3 else {
            throw DataError.invalidArgument("PPM/PGM encoding needs 1 or 3 channels, got \(image.channels)")
        }
        let header = "P\(image.channels == 1 ? 5 : 6)\n\(image.width) \(image.height)\n255\n"
        return Array(header.utf8) + image.pixels
    }
}
