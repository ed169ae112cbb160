import CPNG

/// PNG through libpng's simplified API, which expands palettes, strips 16-bit depth and
/// de-interlaces for us, and reports errors as messages instead of longjmp.
public enum PNGCodec {
    /// Decodes PNG bytes to 1 or 3 channels (gray expands to RGB; alpha is dropped, not composited).
    /// 16-bit samples without a gAMA chunk are taken as sRGB-encoded and scaled to 8 bits.
    public static func decode(_ bytes: [UInt8], channels: Int, source: String) throws -> PixelImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        return try bytes.withUnsafeBufferPointer { buf -> PixelImage in
            guard png_image_begin_read_from_memory(&image, buf.baseAddress, buf.count) != 0 else {
                throw DataError.corruptImage(path: source, format: "PNG", reason: message(of: image))
            }
            let width = Int(image.width), height = Int(image.height)
            try ImageDecoder.checkSize(width: width, height: height, format: .png, source: source)
            let hasColor = (image.format & UInt32(PNG_FORMAT_FLAG_COLOR)) != 0
            let hasAlpha = (image.format & UInt32(PNG_FORMAT_FLAG_ALPHA)) != 0
            let nativeChannels = (hasColor ? 3 : 1) + (hasAlpha ? 1 : 0)
            // Asking for the file's own channel layout avoids libpng's compositing and gamma
            // conversions; channel-count changes are done by ColorConversion like every format.
            image.format = (hasColor ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0) | (hasAlpha ? UInt32(PNG_FORMAT_FLAG_ALPHA) : 0)
            image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
            var pixels = [UInt8](repeating: 0, count: width * height * nativeChannels)
            let ok = pixels.withUnsafeMutableBytes { out in
                png_image_finish_read(&image, nil, out.baseAddress, 0, nil)
            }
            guard ok != 0 else { throw DataError.corruptImage(path: source, format: "PNG", reason: message(of: image)) }
            pixels = ColorConversion.convert(pixels, pixelCount: width * height, from: nativeChannels, to: channels)
            return PixelImage(width: width, height: height, channels: channels, pixels: pixels)
        }
    }

    /// Encodes an 8-bit gray (1), gray+alpha (2), RGB (3) or RGBA (4) image.
    public static func encode(_ image: PixelImage) throws -> [UInt8] {
        var png = try header(for: image)
        defer { png_image_free(&png) }
        var size: Int = 0
        // First call sizes the buffer, second fills it (libpng's documented two-step use).
        let probe = image.pixels.withUnsafeBytes {
            png_image_write_to_memory(&png, nil, &size, 0, $0.baseAddress, 0, nil)
        }
        guard probe != 0, size > 0 else { throw DataError.invalidArgument("PNG encoding failed: \(message(of: png))") }
        var out = [UInt8](repeating: 0, count: size)
        let ok = out.withUnsafeMutableBytes { dst in
            image.pixels.withUnsafeBytes { png_image_write_to_memory(&png, dst.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        guard ok != 0 else { throw DataError.invalidArgument("PNG encoding failed: \(message(of: png))") }
        return Array(out.prefix(size))
    }

    /// Writes an image as a PNG file: encoded in memory, then written by FileIO, so a failed
    /// write (ENOSPC, EACCES) names the file and the OS's reason and leaves no partial file.
    public static func write(_ image: PixelImage, to path: String) throws {
        try FileIO.write(try encode(image), to: path)
    }

    static func header(for image: PixelImage) throws -> png_image {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        switch image.channels {
        case 1: png.format = 0
        case 2: png.format = UInt32(PNG_FORMAT_FLAG_ALPHA)
        case 3: png.format = UInt32(PNG_FORMAT_FLAG_COLOR)
        case 4: png.format = UInt32(PNG_FORMAT_FLAG_COLOR) | UInt32(PNG_FORMAT_FLAG_ALPHA)
        default: throw DataError.invalidArgument("PNG encoding needs 1 to 4 channels, got \(image.channels)")
        }
        return png
    }

    /// The simplified API's error text (a fixed 64-byte C string inside the struct).
    static func message(of image: png_image) -> String {
        var copy = image.message
        let text = withUnsafeBytes(of: &copy) { raw -> String in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        return text.isEmpty ? "libpng error" : text
    }
}
