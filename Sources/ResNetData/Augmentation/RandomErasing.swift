import Foundation

/// Random Erasing (Zhong, Zheng, Kang, Li and Yang, "Random Erasing Data Augmentation", AAAI 2020,
/// arXiv:1708.04896, 2017): with probability `probability`, one rectangle of the image is
/// replaced by random values.
///
/// - The rectangle's area is a fraction of the image drawn uniformly from `scale` and its aspect
///   ratio (height / width) is drawn log-uniformly from `ratio`, as torchvision's
///   `RandomErasing` draws them. The defaults are the paper's values (area 0.02 to 0.4, aspect
///   0.3 to 1/0.3), not torchvision's area 0.02 to 0.33.
/// - Like torchvision it tries up to 10 times to fit such a rectangle (height and width rounded to
///   whole pixels, each strictly smaller than the image's, at an offset drawn uniformly among the
///   positions that keep it inside) and erases nothing when all 10 fail. A try is also rejected
///   when rounding took its area fraction or aspect outside `scale` or `ratio`, so every erased
///   rectangle lies within both ranges.
/// - Fill: the paper's, every value (each channel of each pixel) an independent random 8-bit
///   pixel value, uniform in 0...255, taken through the pipeline's rescale and normalisation.
///   It is applied after normalisation, on the float tensor, as torchvision applies
///   `RandomErasing`; the fill is therefore in the same units as the image's own pixels whatever
///   `rescale`, mean and std are (torchvision's `value="random"` instead draws normal(0, 1) on
///   the normalised tensor, which only matches the data's range after mean/std normalisation).
public struct RandomErasing: Equatable, Sendable {
    /// The chance that an image is erased at all, in [0, 1].
    public var probability: Double
    /// Area fraction of the erased rectangle.
    public var scale: ClosedRange<Double>
    /// Aspect ratio (height / width) of the erased rectangle, drawn log-uniformly.
    public var ratio: ClosedRange<Double>

    /// The paper's ranges: area 0.02...0.4, aspect 0.3...1/0.3.
    public static let paperScale: ClosedRange<Double> = 0.02...0.4
    public static let paperRatio: ClosedRange<Double> = 0.3...(1 / 0.3)

    public init(probability: Double, scale: ClosedRange<Double> = paperScale, ratio: ClosedRange<Double> = paperRatio) {
        self.probability = probability
        self.scale = scale
        self.ratio = ratio
    }

    /// Never erases.
    public static let none = RandomErasing(probability: 0)

    public var isNone: Bool { probability == 0 }

    /// The option must be a finite probability (nan would compare false and silently erase nothing).
    public func validate() throws {
        guard probability.isFinite, (0...1).contains(probability) else {
            throw DataError.invalidArgument("--random-erasing must be a finite probability in [0, 1], got \(probability)")
        }
        guard scale.lowerBound > 0, scale.upperBound <= 1, ratio.lowerBound > 0, ratio.upperBound.isFinite else {
            throw DataError.invalidArgument("random erasing needs scale within (0, 1] and a positive, finite ratio")
        }
    }

    /// The rectangle to erase on a `height` x `width` image, or nil (not chosen, or no try fitted).
    /// Draws nothing when the probability is 0, and only the coin when it is not chosen.
    public func draw(height: Int, width: Int, rng: inout SampleRandom) -> (top: Int, left: Int, height: Int, width: Int)? {
        guard probability > 0, rng.uniform(0, 1) < probability else { return nil }
        let area = Double(height * width)
        for _ in 0..<10 {
            // The ratio here is height / width, so the side it lengthens is the height.
            let (h, w) = Crop.sampleSides(area: area, scale: scale, ratio: ratio, rng: &rng)
            guard h > 0, w > 0, h < height, w < width,
                  scale.contains(Double(h * w) / area), ratio.contains(Double(h) / Double(w)) else { continue }
            return (rng.below(height - h + 1), rng.below(width - w + 1), h, w)
        }
        return nil
    }

    /// Draws and applies the erasure to `out` (a `height` x `width` x `channels` HWC float image,
    /// already rescaled and normalised with per-channel `scale` and `bias`). Returns the rectangle.
    @discardableResult
    public func apply(to out: UnsafeMutablePointer<Float>, height: Int, width: Int, channels: Int,
                      scale pixelScale: [Float], bias: [Float], rng: inout SampleRandom) -> (top: Int, left: Int, height: Int, width: Int)? {
        guard let box = draw(height: height, width: width, rng: &rng) else { return nil }
        for y in box.top..<box.top + box.height {
            for x in box.left..<box.left + box.width {
                let p = out + (y * width + x) * channels
                for c in 0..<channels { p[c] = Float(rng.below(256)) * pixelScale[c] + bias[c] }
            }
        }
        return box
    }
}
