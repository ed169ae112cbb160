import Foundation

/// Crops used by ImageNet-style recipes (torchvision's CenterCrop and RandomResizedCrop).
public enum Crop {
    /// The rectangle starting at (top, left); parts outside the image are zero (torchvision pads).
    public static func crop(_ image: PixelImage, top: Int, left: Int, height: Int, width: Int) -> PixelImage {
        let ch = image.channels
        var out = [UInt8](repeating: 0, count: height * width * ch)
        for y in 0..<height {
            let sy = top + y
            guard sy >= 0 && sy < image.height else { continue }
            let x0 = max(0, -left), x1 = min(width, image.width - left)
            guard x0 < x1 else { continue }
            let s = (sy * image.width + left + x0) * ch, d = (y * width + x0) * ch
            out.replaceSubrange(d..<d + (x1 - x0) * ch, with: image.pixels[s..<s + (x1 - x0) * ch])
        }
        return PixelImage(width: width, height: height, channels: ch, pixels: out)
    }

    /// The central `height` x `width` rectangle (offsets rounded as torchvision does).
    public static func center(_ image: PixelImage, height: Int, width: Int) -> PixelImage {
        let top = Int((Double(image.height - height) / 2).rounded())
        let left = Int((Double(image.width - width) / 2).rounded())
        return crop(image, top: top, left: left, height: height, width: width)
    }

    /// One try of torchvision's box sampling (RandomResizedCrop, RandomErasing): an area fraction
    /// drawn uniformly from `scale` and an aspect ratio log-uniformly from `ratio`, in that order.
    /// Returns the sides rounded to pixels: the one the ratio lengthens first.
    static func sampleSides(area: Double, scale: ClosedRange<Double>, ratio: ClosedRange<Double>,
                            rng: inout SampleRandom) -> (along: Int, across: Int) {
        let target = area * rng.uniform(scale.lowerBound, scale.upperBound)
        let aspect = exp(rng.uniform(log(ratio.lowerBound), log(ratio.upperBound)))
        return (Int((target * aspect).squareRoot().rounded()), Int((target / aspect).squareRoot().rounded()))
    }

    /// torchvision's RandomResizedCrop box: up to 10 tries of a random area fraction in `scale`
    /// and log-uniform aspect ratio in `ratio`, else a centred crop with the ratio clamped.
    public static func randomResizedBox(height: Int, width: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double>,
                                        rng: inout SampleRandom) -> (top: Int, left: Int, height: Int, width: Int) {
        for _ in 0..<10 {
            let (w, h) = sampleSides(area: Double(height * width), scale: scale, ratio: ratio, rng: &rng)
            if w > 0 && w <= width && h > 0 && h <= height {
                return (rng.below(height - h + 1), rng.below(width - w + 1), h, w)
            }
        }
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound { h = Int((Double(w) / ratio.lowerBound).rounded()) }
        else if inRatio > ratio.upperBound { w = Int((Double(h) * ratio.upperBound).rounded()) }
        return ((height - h) / 2, (width - w) / 2, h, w)
    }

    /// torchvision's `RandomCrop(size, padding: pad)` with the default fill 0 (CIFAR's recipe):
    /// the image padded by `pad` pixels of value 0 on every side (black, in 8-bit pixel values,
    /// before rescale and normalisation), then cropped back to its own size at a row and column
    /// offset each drawn uniformly from 0...2*pad (row first). Draws nothing when `pad` is 0.
    public static func randomPadded(_ image: PixelImage, pad: Int, rng: inout SampleRandom) -> PixelImage {
        guard pad > 0 else { return image }
        let dy = rng.below(2 * pad + 1), dx = rng.below(2 * pad + 1)
        return crop(image, top: dy - pad, left: dx - pad, height: image.height, width: image.width)
    }
}
