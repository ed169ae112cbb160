/// The one resampling pass of the pipeline: bilinear sampling of a uint8 image through an
/// affine map, written straight into the batch's float buffer with the per-channel scale and
/// bias (rescale, mean/std) applied, so no intermediate float image is ever allocated.
public enum AffineWarp {
    /// Samples `image` at `matrix.apply(row, col)` for every output pixel of an `outHeight` x
    /// `outWidth` image and writes `value * scale[c] + bias[c]` to `out` (HWC, float).
    public static func warp(_ image: PixelImage, matrix: Affine2D, outHeight: Int, outWidth: Int,
                            fill: FillMode, cval: Float, scale: [Float], bias: [Float],
                            into out: UnsafeMutablePointer<Float>) {
        let ch = image.channels, h = image.height, w = image.width
        precondition(scale.count == ch && bias.count == ch, "AffineWarp: scale/bias need one value per channel")
        if matrix.isIdentity && outHeight == h && outWidth == w {
            convert(image, scale: scale, bias: bias, into: out)
            return
        }
        let maxY = Double(h - 1), maxX = Double(w - 1)
        let eps = 1e-6
        image.pixels.withUnsafeBufferPointer { px in
            for r in 0..<outHeight {
                for c in 0..<outWidth {
                    let y = matrix.a * Double(r) + matrix.b * Double(c) + matrix.c
                    let x = matrix.d * Double(r) + matrix.e * Double(c) + matrix.f
                    let o = out + (r * outWidth + c) * ch
                    if fill == .constant && (y < -eps || y > maxY + eps || x < -eps || x > maxX + eps) {
                        for k in 0..<ch { o[k] = cval * scale[k] + bias[k] }
                        continue
                    }
                    let yf = y.rounded(.down), xf = x.rounded(.down)
                    let fy = Float(y - yf), fx = Float(x - xf)
                    // Index arithmetic on clamped doubles first: a wild matrix must not overflow Int.
                    let y0 = Int(Swift.max(-1e9, Swift.min(1e9, yf))), x0 = Int(Swift.max(-1e9, Swift.min(1e9, xf)))
                    let inside = y0 >= 0 && x0 >= 0 && y0 + 1 < h && x0 + 1 < w
                    let ry0 = inside ? y0 : index(y0, h, fill), ry1 = inside ? y0 + 1 : index(y0 + 1, h, fill)
                    let rx0 = inside ? x0 : index(x0, w, fill), rx1 = inside ? x0 + 1 : index(x0 + 1, w, fill)
                    let p00 = (ry0 * w + rx0) * ch, p01 = (ry0 * w + rx1) * ch
                    let p10 = (ry1 * w + rx0) * ch, p11 = (ry1 * w + rx1) * ch
                    let w00 = (1 - fy) * (1 - fx), w01 = (1 - fy) * fx, w10 = fy * (1 - fx), w11 = fy * fx
                    for k in 0..<ch {
                        let v = w00 * Float(px[p00 + k]) + w01 * Float(px[p01 + k]) + w10 * Float(px[p10 + k]) + w11 * Float(px[p11 + k])
                        o[k] = v * scale[k] + bias[k]
                    }
                }
            }
        }
    }

    /// Maps an out-of-range integer coordinate into 0..<n for the fill mode (`.constant`
    /// clamps: points inside the image interpolate against the edge, like scipy's 'constant').
    @inline(__always) static func index(_ i: Int, _ n: Int, _ fill: FillMode) -> Int {
        switch fill {
        case .nearest, .constant:
            return i < 0 ? 0 : (i >= n ? n - 1 : i)
        case .reflect:
            let period = 2 * n
            var m = i % period
            if m < 0 { m += period }
            return m >= n ? period - 1 - m : m
        case .wrap:
            var m = i % n
            if m < 0 { m += n }
            return m
        }
    }

    /// The no-transform path: scale and bias only.
    static func convert(_ image: PixelImage, scale: [Float], bias: [Float], into out: UnsafeMutablePointer<Float>) {
        let ch = image.channels
        image.pixels.withUnsafeBufferPointer { px in
            if ch == 1 {
                let s = scale[0], b = bias[0]
                for i in 0..<px.count { out[i] = Float(px[i]) * s + b }
            } else {
                for i in 0..<px.count { let k = i % ch; out[i] = Float(px[i]) * scale[k] + bias[k] }
            }
        }
    }
}
