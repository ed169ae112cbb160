/// torchvision's photometric functions (`torchvision.transforms.functional`) on 8-bit images, so
/// RandAugment (Cubuk et al. 2020) and ColorJitter change pixels as they do in PyTorch recipes.
///
/// Each works in float and converts back as torchvision does for `uint8` tensors: blends clamp to
/// 0...255 and truncate; the sharpness blur and the warps round. Saturation and hue leave
/// 1-channel images unchanged (torchvision and PIL do the same).
public enum ColorAdjust {
    /// torchvision's `rgb_to_grayscale` luma (ITU-R 601-2), truncated to 8 bits; the image itself for 1 channel.
    public static func grayscale(_ image: PixelImage) -> [UInt8] {
        guard image.channels == 3 else { return image.pixels }
        var out = [UInt8](repeating: 0, count: image.width * image.height)
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<out.count {
                let r = Float(p[3 * i]), g = Float(p[3 * i + 1]), b = Float(p[3 * i + 2])
                out[i] = UInt8(0.2989 * r + 0.587 * g + 0.114 * b)
            }
        }
        return out
    }

    /// `_blend`: factor * image + (1 - factor) * other, clamped to 0...255 and truncated.
    @inline(__always) static func blend(_ value: UInt8, _ other: Float, _ factor: Float) -> UInt8 {
        let v = factor * Float(value) + (1 - factor) * other
        return UInt8(Swift.max(0, Swift.min(255, v)))
    }

    /// `adjust_brightness`: blends with black; factor 1 is the identity, 0 black.
    public static func brightness(_ image: PixelImage, factor: Float) -> PixelImage {
        var out = image
        for i in out.pixels.indices { out.pixels[i] = blend(image.pixels[i], 0, factor) }
        return out
    }

    /// `adjust_contrast`: blends with the mean of the (8-bit) grayscale image.
    public static func contrast(_ image: PixelImage, factor: Float) -> PixelImage {
        let gray = grayscale(image)
        guard !gray.isEmpty else { return image }
        let mean = Float(gray.reduce(0) { $0 + Int($1) }) / Float(gray.count)
        var out = image
        for i in out.pixels.indices { out.pixels[i] = blend(image.pixels[i], mean, factor) }
        return out
    }

    /// `adjust_saturation` (RandAugment's "Color"): blends each pixel with its gray value.
    public static func saturation(_ image: PixelImage, factor: Float) -> PixelImage {
        guard image.channels == 3 else { return image }
        let gray = grayscale(image)
        var out = image
        for i in out.pixels.indices { out.pixels[i] = blend(image.pixels[i], Float(gray[i / 3]), factor) }
        return out
    }

    /// `adjust_hue`: rotates the hue by `shift` turns (in [-0.5, 0.5]) in HSV space, with
    /// torchvision's float conversion (x / 255 there, x * 255.999 truncated back).
    public static func hue(_ image: PixelImage, shift: Float) -> PixelImage {
        guard image.channels == 3 else { return image }
        var out = image
        for i in 0..<image.width * image.height {
            let r = Float(image.pixels[3 * i]) / 255, g = Float(image.pixels[3 * i + 1]) / 255, b = Float(image.pixels[3 * i + 2]) / 255
            var (h, s, v) = rgbToHSV(r, g, b)
            h = (h + shift).truncatingRemainder(dividingBy: 1)
            if h < 0 { h += 1 }
            let rgb = hsvToRGB(h, s, v)
            out.pixels[3 * i] = toByte(rgb.0)
            out.pixels[3 * i + 1] = toByte(rgb.1)
            out.pixels[3 * i + 2] = toByte(rgb.2)
        }
        return out
    }

    /// `convert_image_dtype` from float to uint8.
    @inline(__always) static func toByte(_ x: Float) -> UInt8 { UInt8(Swift.max(0, Swift.min(255, x * 255.999))) }

    /// torchvision's `_rgb2hsv` (hue in [0, 1)).
    static func rgbToHSV(_ r: Float, _ g: Float, _ b: Float) -> (Float, Float, Float) {
        let maxc = Swift.max(r, g, b), minc = Swift.min(r, g, b)
        let cr = maxc - minc
        guard cr > 0 else { return (0, 0, maxc) }
        let s = cr / maxc
        let rc = (maxc - r) / cr, gc = (maxc - g) / cr, bc = (maxc - b) / cr
        let h: Float = maxc == r ? bc - gc : (maxc == g ? 2 + rc - bc : 4 + gc - rc)
        var hue = (h / 6 + 1).truncatingRemainder(dividingBy: 1)
        if hue < 0 { hue += 1 }
        return (hue, s, maxc)
    }

    /// torchvision's `_hsv2rgb`.
    static func hsvToRGB(_ h: Float, _ s: Float, _ v: Float) -> (Float, Float, Float) {
        let i = (h * 6).rounded(.down)
        let f = h * 6 - i
        let p = Swift.max(0, Swift.min(1, v * (1 - s)))
        let q = Swift.max(0, Swift.min(1, v * (1 - s * f)))
        let t = Swift.max(0, Swift.min(1, v * (1 - s * (1 - f))))
        switch ((Int(i) % 6) + 6) % 6 {
        case 0: return (v, t, p)
        case 1: return (q, v, p)
        case 2: return (p, v, t)
        case 3: return (p, q, v)
        case 4: return (t, p, v)
        default: return (v, p, q)
        }
    }

    /// `adjust_sharpness`: blends with PIL's smoothing filter (3x3 kernel 1,1,1 / 1,5,1 / 1,1,1
    /// over 13, rounded) applied to the interior; the border pixels stay as they are, and images
    /// with a side of 2 or less are returned unchanged.
    public static func sharpness(_ image: PixelImage, factor: Float) -> PixelImage {
        let h = image.height, w = image.width, ch = image.channels
        guard h > 2, w > 2 else { return image }
        var out = image
        let px = image.pixels
        for y in 1..<h - 1 {
            for x in 1..<w - 1 {
                for c in 0..<ch {
                    var sum: Float = 0
                    for dy in -1...1 {
                        for dx in -1...1 { sum += Float(px[((y + dy) * w + x + dx) * ch + c]) }
                    }
                    let centre = Float(px[(y * w + x) * ch + c])
                    let blurred = ((sum + 4 * centre) / 13).rounded(.toNearestOrEven)
                    out.pixels[(y * w + x) * ch + c] = blend(px[(y * w + x) * ch + c], blurred, factor)
                }
            }
        }
        return out
    }

    /// `posterize`: keeps the top `bits` bits of every value (8 is the identity).
    public static func posterize(_ image: PixelImage, bits: Int) -> PixelImage {
        let kept = Swift.max(0, Swift.min(8, bits))
        let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - kept))
        var out = image
        for i in out.pixels.indices { out.pixels[i] &= mask }
        return out
    }

    /// `solarize`: inverts (255 - x) every value at or above `threshold` (in 0...255 units).
    public static func solarize(_ image: PixelImage, threshold: Float) -> PixelImage {
        var out = image
        for i in out.pixels.indices where Float(out.pixels[i]) >= threshold { out.pixels[i] = 255 - out.pixels[i] }
        return out
    }

    /// `autocontrast`: stretches each channel's min...max to 0...255 (a constant channel is kept).
    public static func autocontrast(_ image: PixelImage) -> PixelImage {
        let ch = image.channels
        var out = image
        for c in 0..<ch {
            var lo = UInt8.max, hi = UInt8.min
            for i in stride(from: c, to: image.pixels.count, by: ch) { lo = Swift.min(lo, image.pixels[i]); hi = Swift.max(hi, image.pixels[i]) }
            guard hi > lo else { continue }
            let scale = 255 / Float(hi - lo), minimum = Float(lo)
            for i in stride(from: c, to: image.pixels.count, by: ch) {
                out.pixels[i] = UInt8(Swift.max(0, Swift.min(255, (Float(image.pixels[i]) - minimum) * scale)))
            }
        }
        return out
    }

    /// `equalize` (PIL's `ImageOps.equalize`): per channel, maps values through the cumulative
    /// histogram in steps of (pixels not in the last used bin) / 255; a channel whose step is 0
    /// (fewer than 255 such pixels) is kept.
    public static func equalize(_ image: PixelImage) -> PixelImage {
        let ch = image.channels
        var out = image
        for c in 0..<ch {
            var hist = [Int](repeating: 0, count: 256)
            for i in stride(from: c, to: image.pixels.count, by: ch) { hist[Int(image.pixels[i])] += 1 }
            let used = hist.filter { $0 != 0 }
            let step = used.dropLast().reduce(0, +) / 255
            guard step > 0 else { continue }
            var lut = [UInt8](repeating: 0, count: 256)
            var cumulative = 0
            for v in 0..<256 {
                // lut[v] uses the count of values below v (torchvision pads the cumsum by one).
                lut[v] = UInt8(Swift.min(255, (cumulative + step / 2) / step))
                cumulative += hist[v]
            }
            for i in stride(from: c, to: image.pixels.count, by: ch) { out.pixels[i] = lut[Int(image.pixels[i])] }
        }
        return out
    }
}
