/// Channel-count conversions shared by all decoders, so that "gray expands to RGB, alpha
/// is dropped" means the same thing for JPEG, PNG and PPM.
enum ColorConversion {
    /// Converts interleaved pixels with `from` channels (1 gray, 2 gray+alpha, 3 RGB,
    /// 4 RGBA) into `to` channels (1 or 3). RGB to gray uses PIL's integer luma weights.
    static func convert(_ src: [UInt8], pixelCount: Int, from: Int, to: Int) -> [UInt8] {
        if from == to { return src }
        var out = [UInt8](repeating: 0, count: pixelCount * to)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                for i in 0..<pixelCount {
                    let p = i * from
                    if from <= 2 {
                        let g = s[p]
                        if to == 1 { d[i] = g } else { d[3 * i] = g; d[3 * i + 1] = g; d[3 * i + 2] = g }
                    } else {
                        let r = s[p], g = s[p + 1], b = s[p + 2]
                        if to == 1 {
                            d[i] = luma(r, g, b)
                        } else {
                            d[3 * i] = r; d[3 * i + 1] = g; d[3 * i + 2] = b
                        }
                    }
                }
            }
        }
        return out
    }

    /// ITU-R 601 luma in PIL's fixed point (the weights Keras users get from `convert("L")`).
    @inline(__always) static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        let weighted: UInt32 = UInt32(r) * 19595 + UInt32(g) * 38470 + UInt32(b) * 7471
        return UInt8((weighted + 0x8000) >> 16)
    }

    /// Converts CMYK as stored by Adobe applications (inverted: 255 = no ink), which is the
    /// convention libjpeg-turbo uses too, to RGB or gray. A real conversion needs an ICC
    /// profile; this naive one is what PIL and libjpeg-turbo's tools do.
    static func cmykToRGB(_ src: [UInt8], pixelCount: Int, to: Int) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: pixelCount * 3)
        for i in 0..<pixelCount {
            let k = UInt32(src[4 * i + 3])
            for c in 0..<3 {
                rgb[3 * i + c] = UInt8((UInt32(src[4 * i + c]) * k + 127) / 255)
            }
        }
        return to == 3 ? rgb : convert(rgb, pixelCount: pixelCount, from: 3, to: 1)
    }
}
