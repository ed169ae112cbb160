import CTurboJPEG

/// JPEG through libjpeg-turbo's TurboJPEG API: SIMD decoding, DCT-domain downscaling, and
/// all colour spaces (gray, YCbCr, CMYK/YCCK, progressive) without touching libjpeg's setjmp.
public enum JPEGCodec {
    /// Decodes JPEG bytes to 1 or 3 channels. With a size hint, uses the largest of libjpeg-turbo's
    /// fast scaling factors (1/2, 1/4, 1/8) that keeps the image at least as large as the hint.
    public static func decode(_ bytes: [UInt8], channels: Int, sizeHint: DecodeSizeHint = .fullSize,
                              source: String) throws -> PixelImage {
        guard let handle = tjInitDecompress() else {
            throw DataError.corruptImage(path: source, format: "JPEG", reason: "cannot initialise libjpeg-turbo")
        }
        defer { tjDestroy(handle) }
        return try bytes.withUnsafeBufferPointer { buf -> PixelImage in
            var width: Int32 = 0, height: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
            if tjDecompressHeader3(handle, buf.baseAddress, UInt(buf.count), &width, &height, &subsamp, &colorspace) != 0 {
                throw DataError.corruptImage(path: source, format: "JPEG", reason: errorString(handle))
            }
            try ImageDecoder.checkSize(width: Int(width), height: Int(height), format: .jpeg, source: source)
            let factor = scalingFactor(width: Int(width), height: Int(height), hint: sizeHint)
            let outW = scaled(Int(width), factor), outH = scaled(Int(height), factor)
            let isCMYK = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
            let decodedChannels = isCMYK ? 4 : channels
            let pixelFormat: TJPF = isCMYK ? TJPF_CMYK : (channels == 1 ? TJPF_GRAY : TJPF_RGB)
            var pixels = [UInt8](repeating: 0, count: outW * outH * decodedChannels)
            let rc = pixels.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, buf.baseAddress, UInt(buf.count), out.baseAddress,
                              Int32(outW), 0, Int32(outH), Int32(pixelFormat.rawValue), 0)
            }
            if rc != 0 {
                // libjpeg-turbo reports a fatal error that follows a warning with the warning
                // code, so the code cannot be trusted: only warnings known to leave the image
                // whole (as PIL also accepts them) pass; anything else is a corrupt image.
                let message = errorString(handle)
                if !benignWarnings.contains(where: { message.contains($0) }) {
                    throw DataError.corruptImage(path: source, format: "JPEG", reason: message)
                }
            }
            if isCMYK { pixels = ColorConversion.cmykToRGB(pixels, pixelCount: outW * outH, to: channels) }
            return PixelImage(width: outW, height: outH, channels: channels, pixels: pixels)
        }
    }

    /// libjpeg warnings after which the decoded image is complete (real-world files carry them).
    static let benignWarnings = ["extraneous bytes before marker", "unknown JFIF revision", "Invalid SOS parameters for sequential JPEG",
                                 "Unknown Adobe color transform", "bad ICC marker"]

    /// Reads only the header: the full-size (width, height), without decoding pixels.
    public static func header(_ bytes: [UInt8], source: String) throws -> (width: Int, height: Int) {
        guard let handle = tjInitDecompress() else {
            throw DataError.corruptImage(path: source, format: "JPEG", reason: "cannot initialise libjpeg-turbo")
        }
        defer { tjDestroy(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        let rc = bytes.withUnsafeBufferPointer {
            tjDecompressHeader3(handle, $0.baseAddress, UInt($0.count), &width, &height, &subsamp, &colorspace)
        }
        if rc != 0 { throw DataError.corruptImage(path: source, format: "JPEG", reason: errorString(handle)) }
        return (Int(width), Int(height))
    }

    /// Encodes 1-channel (gray), 3-channel (RGB) or 4-channel (CMYK, Adobe-inverted) pixels.
    /// Used by the tests and by tools that write JPEG datasets.
    public static func encode(_ image: PixelImage, quality: Int = 95, subsampling444: Bool = true,
                              progressive: Bool = false) throws -> [UInt8] {
        guard let handle = tjInitCompress() else { throw DataError.invalidArgument("cannot initialise libjpeg-turbo") }
        defer { tjDestroy(handle) }
        let format: TJPF
        switch image.channels {
        case 1: format = TJPF_GRAY
        case 3: format = TJPF_RGB
        case 4: format = TJPF_CMYK
        default: throw DataError.invalidArgument("JPEG encoding needs 1, 3 or 4 channels, got \(image.channels)")
        }
        let subsamp: TJSAMP = image.channels == 1 ? TJSAMP_GRAY : (subsampling444 ? TJSAMP_444 : TJSAMP_420)
        var jpegBuf: UnsafeMutablePointer<UInt8>? = nil
        var jpegSize: UInt = 0
        let flags = progressive ? TJFLAG_PROGRESSIVE : 0
        let rc = image.pixels.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(format.rawValue),
                        &jpegBuf, &jpegSize, Int32(subsamp.rawValue), Int32(quality), flags)
        }
        defer { if let jpegBuf { tjFree(jpegBuf) } }
        guard rc == 0, let jpegBuf else { throw DataError.invalidArgument("JPEG encoding failed: \(errorString(handle))") }
        return Array(UnsafeBufferPointer(start: jpegBuf, count: Int(jpegSize)))
    }

    /// Picks a fast DCT scaling factor (num/denom) for the hint; 1/1 when none fits.
    static func scalingFactor(width: Int, height: Int, hint: DecodeSizeHint) -> (num: Int, denom: Int) {
        var best = (num: 1, denom: 1)
        var count: Int32 = 0
        guard let factors = tjGetScalingFactors(&count) else { return best }
        let available = Set((0..<Int(count)).map { Int(factors[$0].num) * 100 + Int(factors[$0].denom) })
        for denom in [2, 4, 8] where available.contains(100 + denom) {
            if hint.accepts(width: scaled(width, (1, denom)), height: scaled(height, (1, denom))) {
                best = (1, denom)
            }
        }
        return best
    }

    /// TJSCALED: the decoded size of a dimension under a scaling factor.
    static func scaled(_ dimension: Int, _ factor: (num: Int, denom: Int)) -> Int {
        (dimension * factor.num + factor.denom - 1) / factor.denom
    }

    static func errorString(_ handle: tjhandle) -> String {
        guard let cString = tjGetErrorStr2(handle) else { return "unknown libjpeg-turbo error" }
        return String(cString: cString)
    }
}
