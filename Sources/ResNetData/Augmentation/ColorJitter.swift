import Foundation

/// torchvision's `ColorJitter` (the photometric distortion of Krizhevsky et al. 2012 and Szegedy
/// et al. 2015, "Going deeper with convolutions", in PyTorch's form): brightness, contrast and
/// saturation factors drawn uniformly from [max(0, 1-x), 1+x], a hue shift from [-h, h] turns,
/// applied in a random order per image. A zero amount is skipped, as torchvision skips `None`.
///
/// Draws follow torchvision: the order permutation first, then each enabled factor in the order
/// brightness, contrast, saturation, hue. Saturation and hue leave 1-channel images unchanged.
public struct ColorJitter: Equatable, Sendable {
    public var brightness: Double
    public var contrast: Double
    public var saturation: Double
    public var hue: Double

    public init(brightness: Double = 0, contrast: Double = 0, saturation: Double = 0, hue: Double = 0) {
        self.brightness = brightness; self.contrast = contrast; self.saturation = saturation; self.hue = hue
    }

    /// From `--color-jitter B[,C[,S[,H]]]`'s numbers; missing ones are 0 (off).
    public init(values: [Double]) {
        func at(_ i: Int) -> Double { i < values.count ? values[i] : 0 }
        self.init(brightness: at(0), contrast: at(1), saturation: at(2), hue: at(3))
    }

    /// Reads `--color-jitter B[,C[,S[,H]]]` (one to four numbers).
    public static func parse(_ text: String) throws -> [Double] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...4).contains(parts.count), parts.allSatisfy({ $0 != nil }) else {
            throw DataError.invalidArgument("--color-jitter takes one to four numbers B[,C[,S[,H]]], e.g. 0.4,0.4,0.4 (got '\(text)')")
        }
        return parts.map { $0! }
    }

    public static let none = ColorJitter()
    public var isNone: Bool { brightness == 0 && contrast == 0 && saturation == 0 && hue == 0 }

    /// The largest brightness, contrast or saturation amount: factors up to 1+x = 101 already
    /// saturate every pixel, anything larger is a typo.
    public static let maxAmount = 100.0

    public func validate() throws {
        for (name, value) in [("brightness", brightness), ("contrast", contrast), ("saturation", saturation)] {
            guard value.isFinite, (0...Self.maxAmount).contains(value) else {
                throw DataError.invalidArgument("--color-jitter \(name) must be a finite number between 0 and \(Self.maxAmount), got \(value)")
            }
        }
        guard hue.isFinite, (0...0.5).contains(hue) else {
            throw DataError.invalidArgument("--color-jitter hue must be a finite number between 0 and 0.5, got \(hue)")
        }
    }

    /// One draw: the order of the four adjustments (0 brightness, 1 contrast, 2 saturation,
    /// 3 hue) and the factors of the enabled ones (nil when off).
    public struct Parameters: Equatable, Sendable {
        public var order: [Int]
        public var brightness: Double?
        public var contrast: Double?
        public var saturation: Double?
        public var hue: Double?
    }

    public func draw(rng: inout SampleRandom) -> Parameters {
        func factor(_ x: Double) -> Double? { x == 0 ? nil : rng.uniform(max(0, 1 - x), 1 + x) }
        let order = rng.permutation(4)
        let b = factor(brightness), c = factor(contrast), s = factor(saturation)
        let h = hue == 0 ? nil : rng.uniform(-hue, hue)
        return Parameters(order: order, brightness: b, contrast: c, saturation: s, hue: h)
    }

    /// Applies drawn parameters in their order.
    public static func apply(_ p: Parameters, to image: PixelImage) -> PixelImage {
        var img = image
        for step in p.order {
            switch step {
            case 0: if let f = p.brightness { img = ColorAdjust.brightness(img, factor: Float(f)) }
            case 1: if let f = p.contrast { img = ColorAdjust.contrast(img, factor: Float(f)) }
            case 2: if let f = p.saturation { img = ColorAdjust.saturation(img, factor: Float(f)) }
            default: if let h = p.hue { img = ColorAdjust.hue(img, shift: Float(h)) }
            }
        }
        return img
    }

    /// Draws and applies; draws nothing when off.
    public func apply(to image: PixelImage, rng: inout SampleRandom) -> PixelImage {
        guard !isNone else { return image }
        return Self.apply(draw(rng: &rng), to: image)
    }
}
