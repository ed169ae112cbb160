/// The one resampling pass of the pipeline: bilinear sampling of a uint8 image through an
/// affine map, written straight into the batch's float buffer with the per-channel scale and
/// bias (rescale, mean/std) applied, so no intermediate float image is ever allocated.
public enum AffineWarp {
    /// Samples `image` at `matrix.apply(row, col)` for every output pixel of an `outHeight` x
    /// `outWidth` image and writes `value * scale[c] + bias[c]` to `out` (HWC, float).
    public static func warp(_ image: PixelImage, matrix: Affine2D, outHeight: Int, outWidth: Int,
                            fill: FillMode, cval: Float, scale: [Float], bias: [Float],
                            into out: UnsafeMutablePointer<Float>) {
        let ch = image.channels
        precondition(scale.count == ch && bias.count == ch, "AffineWarp: scale/bias need one value per channel")
        if matrix.isIdentity && outHeight == image.height && outWidth == image.width {
            convert(image, scale: scale, bias: bias, into: out)
            return
        }
        image.pixels.withUnsafeBufferPointer { px in
            scale.withUnsafeBufferPointer { sc in
                bias.withUnsafeBufferPointer { bs in
                    let sampler = Sampler(src: px.baseAddress!, height: image.height, width: image.width, channels: ch,
                                          fill: fill, cval: cval, scale: sc.baseAddress!, bias: bs.baseAddress!)
                    // Specialised loops for the common channel counts let the compiler unroll the channel loop.
                    switch ch {
                    case 3: sampler.run(matrix: matrix, outHeight: outHeight, outWidth: outWidth, out: out, channels: 3)
                    case 1: sampler.run(matrix: matrix, outHeight: outHeight, outWidth: outWidth, out: out, channels: 1)
                    default: sampler.run(matrix: matrix, outHeight: outHeight, outWidth: outWidth, out: out, channels: ch)
                    }
                }
            }
        }
    }

    /// Raw-pointer state of one warp (valid only inside `warp`).
    struct Sampler {
        let src: UnsafePointer<UInt8>
        let height: Int, width: Int, channels: Int
        let fill: FillMode
        let cval: Float
        let scale: UnsafePointer<Float>, bias: UnsafePointer<Float>

        @inline(__always)
        func run(matrix m: Affine2D, outHeight: Int, outWidth: Int, out: UnsafeMutablePointer<Float>, channels ch: Int) {
            let h = height, w = width
            let maxY = Double(h - 1), maxX = Double(w - 1)
            let eps = 1e-6
            var o = out
            for r in 0..<outHeight {
                let rowY = m.a * Double(r) + m.c, rowX = m.d * Double(r) + m.f
                for c in 0..<outWidth {
                    let y = rowY + m.b * Double(c), x = rowX + m.e * Double(c)
                    defer { o += ch }
                    if fill == .constant && (y < -eps || y > maxY + eps || x < -eps || x > maxX + eps) {
                        for k in 0..<ch { o[k] = cval * scale[k] + bias[k] }
                        continue
                    }
                    // floor via truncation (no libm call); clamping first keeps Int() defined for wild maps.
                    let yc = Swift.max(-1e9, Swift.min(1e9, y)), xc = Swift.max(-1e9, Swift.min(1e9, x))
                    var y0 = Int(yc), x0 = Int(xc)
                    if Double(y0) > yc { y0 -= 1 }
                    if Double(x0) > xc { x0 -= 1 }
                    let fy = Float(yc - Double(y0)), fx = Float(xc - Double(x0))
                    let ry0: Int, ry1: Int, rx0: Int, rx1: Int
                    if y0 >= 0 && x0 >= 0 && y0 + 1 < h && x0 + 1 < w {
                        ry0 = y0; ry1 = y0 + 1; rx0 = x0; rx1 = x0 + 1
                    } else {
                        ry0 = AffineWarp.index(y0, h, fill); ry1 = AffineWarp.index(y0 + 1, h, fill)
                        rx0 = AffineWarp.index(x0, w, fill); rx1 = AffineWarp.index(x0 + 1, w, fill)
                    }
                    let p00 = src + (ry0 * w + rx0) * ch, p01 = src + (ry0 * w + rx1) * ch
                    let p10 = src + (ry1 * w + rx0) * ch, p11 = src + (ry1 * w + rx1) * ch
                    let w00 = (1 - fy) * (1 - fx), w01 = (1 - fy) * fx, w10 = fy * (1 - fx), w11 = fy * fx
                    for k in 0..<ch {
                        var v = w00 * Float(p00[k]) + w01 * Float(p01[k])
                        v += w10 * Float(p10[k]) + w11 * Float(p11[k])
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
            let n = px.count
            if ch == 3 {
                let s0 = scale[0], s1 = scale[1], s2 = scale[2], b0 = bias[0], b1 = bias[1], b2 = bias[2]
                var i = 0
                while i < n {
                    out[i] = Float(px[i]) * s0 + b0
                    out[i + 1] = Float(px[i + 1]) * s1 + b1
                    out[i + 2] = Float(px[i + 2]) * s2 + b2
                    i += 3
                }
            } else if ch == 1 {
                let s = scale[0], b = bias[0]
                for i in 0..<n { out[i] = Float(px[i]) * s + b }
            } else {
                for i in 0..<n { let k = i % ch; out[i] = Float(px[i]) * scale[k] + bias[k] }
            }
        }
    }
}
