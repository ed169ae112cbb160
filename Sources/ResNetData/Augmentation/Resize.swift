/// Resampling filters for resizing.
public enum ResizeFilter: String, Sendable, CaseIterable {
    /// PIL's NEAREST, Keras `flow_from_directory`'s default.
    case nearest
    /// PIL's BILINEAR: a triangle filter that widens when shrinking (antialiased), as
    /// torchvision's `Resize` does on PIL images for ImageNet preprocessing.
    case bilinear
}

/// uint8 resizing. Pixels stay 8-bit here; only the final warp produces floats.
public enum Resize {
    public static func resize(_ image: PixelImage, height: Int, width: Int, filter: ResizeFilter) -> PixelImage {
        if image.height == height && image.width == width { return image }
        switch filter {
        case .nearest: return nearest(image, height: height, width: width)
        case .bilinear: return bilinear(image, height: height, width: width)
        }
    }

    /// The (height, width) that makes the shorter side `side`, keeping the aspect ratio
    /// (torchvision's `Resize(int)`: the longer side is truncated, as `int()` does).
    public static func shorterSideSize(height: Int, width: Int, side: Int) -> (height: Int, width: Int) {
        if height <= width { return (side, max(1, Int(Double(side) * Double(width) / Double(height)))) }
        return (max(1, Int(Double(side) * Double(height) / Double(width))), side)
    }

    /// Source pixel = floor((dst + 0.5) * in / out), PIL's pixel-centre convention.
    static func nearest(_ image: PixelImage, height: Int, width: Int) -> PixelImage {
        let ch = image.channels
        let xs = (0..<width).map { min(Int((Double($0) + 0.5) * Double(image.width) / Double(width)), image.width - 1) }
        var out = [UInt8](repeating: 0, count: height * width * ch)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let sy = min(Int((Double(y) + 0.5) * Double(image.height) / Double(height)), image.height - 1)
                    let srow = sy * image.width * ch, drow = y * width * ch
                    for x in 0..<width {
                        for k in 0..<ch { dst[drow + x * ch + k] = src[srow + xs[x] * ch + k] }
                    }
                }
            }
        }
        return PixelImage(width: width, height: height, channels: ch, pixels: out)
    }

    /// Per output coordinate: the first input index and normalised weights (PIL's precompute_coeffs).
    static func coefficients(inSize: Int, outSize: Int) -> [(start: Int, weights: [Float])] {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filterScale  // triangle support 1, widened when shrinking
        return (0..<outSize).map { i in
            let center = (Double(i) + 0.5) * scale
            let lo = max(Int((center - support + 0.5).rounded(.down)), 0)
            let hi = min(Int((center + support + 0.5).rounded(.down)), inSize)
            var weights: [Double] = []
            for x in lo..<max(hi, lo + 1) {
                let t = abs((Double(x) - center + 0.5) / filterScale)
                weights.append(max(0, 1 - t))
            }
            let sum = weights.reduce(0, +)
            let normalised = sum > 0 ? weights.map { Float($0 / sum) } : weights.map { _ in Float(1) / Float(weights.count) }
            return (min(lo, inSize - 1), normalised)
        }
    }

    /// Separable triangle-filter resize: horizontal pass into floats, vertical pass to uint8.
    static func bilinear(_ image: PixelImage, height: Int, width: Int) -> PixelImage {
        let ch = image.channels
        let cx = coefficients(inSize: image.width, outSize: width)
        let cy = coefficients(inSize: image.height, outSize: height)
        var temp = [Float](repeating: 0, count: image.height * width * ch)
        image.pixels.withUnsafeBufferPointer { src in
            temp.withUnsafeMutableBufferPointer { tmp in
                for y in 0..<image.height {
                    let srow = y * image.width * ch, trow = y * width * ch
                    for x in 0..<width {
                        let (start, weights) = cx[x]
                        for k in 0..<ch {
                            var acc: Float = 0
                            for (j, wgt) in weights.enumerated() { acc += wgt * Float(src[srow + (start + j) * ch + k]) }
                            tmp[trow + x * ch + k] = acc
                        }
                    }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: height * width * ch)
        temp.withUnsafeBufferPointer { tmp in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let (start, weights) = cy[y]
                    for i in 0..<(width * ch) {
                        var acc: Float = 0
                        for (j, wgt) in weights.enumerated() { acc += wgt * tmp[(start + j) * width * ch + i] }
                        dst[y * width * ch + i] = UInt8(max(0, min(255, acc.rounded())))
                    }
                }
            }
        }
        return PixelImage(width: width, height: height, channels: ch, pixels: out)
    }
}
