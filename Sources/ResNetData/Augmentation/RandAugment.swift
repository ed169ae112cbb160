import Foundation

/// RandAugment (Cubuk, Zoph, Shlens and Le, "RandAugment: Practical automated data augmentation
/// with a reduced search space", CVPR Workshops 2020, arXiv:1909.13719): `numOps` operations, each
/// drawn uniformly (with replacement) from 14, all at one shared `magnitude`.
///
/// The op set, magnitude bins (31, so magnitude 0...30) and per-op ranges are torchvision's
/// `RandAugment._augmentation_space`; signed ops are negated with probability 0.5 as torchvision
/// does. It runs on the 8-bit image after the crops, before the affine augmentation and rescale.
/// Geometric ops use the pipeline's bilinear `AffineWarp` (torchvision defaults to nearest) with
/// fill 0, rounded back to 8 bits; the shears pivot on the top-left corner as torchvision's do.
public struct RandAugment: Equatable, Sendable {
    /// Operations applied to each image (N); 0 is off.
    public var numOps: Int
    /// Shared magnitude bin M in 0...30.
    public var magnitude: Int

    public static let magnitudeBins = 31
    /// More ops than this is a typo, not a recipe (the paper uses N up to 3).
    public static let maxOps = 16

    public init(numOps: Int, magnitude: Int) {
        self.numOps = numOps
        self.magnitude = magnitude
    }

    public static let none = RandAugment(numOps: 0, magnitude: 0)
    public var isNone: Bool { numOps == 0 }

    /// Reads `--randaugment N,M`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let n = parts[0], let m = parts[1] else {
            throw DataError.invalidArgument("--randaugment takes N,M: the number of ops and the magnitude, e.g. 2,9 (got '\(text)')")
        }
        self.init(numOps: n, magnitude: m)
    }

    public func validate() throws {
        guard (0...Self.maxOps).contains(numOps) else {
            throw DataError.invalidArgument("--randaugment N (ops per image) must be between 0 and \(Self.maxOps), got \(numOps)")
        }
        guard (0..<Self.magnitudeBins).contains(magnitude) else {
            throw DataError.invalidArgument("--randaugment M (magnitude) must be between 0 and \(Self.magnitudeBins - 1), got \(magnitude)")
        }
    }

    /// torchvision's op set, in its order (the draw picks an index into this list).
    public enum Kind: Int, CaseIterable, Sendable {
        case identity, shearX, shearY, translateX, translateY, rotate, brightness, color, contrast, sharpness,
             posterize, solarize, autoContrast, equalize

        /// Whether torchvision negates the magnitude with probability 0.5.
        public var isSigned: Bool {
            switch self {
            case .shearX, .shearY, .translateX, .translateY, .rotate, .brightness, .color, .contrast, .sharpness: return true
            default: return false
            }
        }

        /// The op's magnitude at `bin` (0...30) on a `height` x `width` image, unsigned:
        /// `_augmentation_space`'s linspace ranges (solarize in 0...255 pixel units).
        public func magnitude(bin: Int, height: Int, width: Int) -> Double {
            let t = Double(bin) / Double(RandAugment.magnitudeBins - 1)
            switch self {
            case .identity, .autoContrast, .equalize: return 0
            case .shearX, .shearY: return 0.3 * t
            case .translateX: return 150.0 / 331.0 * Double(width) * t
            case .translateY: return 150.0 / 331.0 * Double(height) * t
            case .rotate: return 30 * t
            case .brightness, .color, .contrast, .sharpness: return 0.9 * t
            case .posterize: return Double(8 - Int((Double(bin) / (Double(RandAugment.magnitudeBins - 1) / 4)).rounded()))
            case .solarize: return 255 * (1 - t)
            }
        }
    }

    /// One drawn operation with its signed magnitude.
    public struct Operation: Equatable, Sendable {
        public var kind: Kind
        public var magnitude: Double
        public init(_ kind: Kind, _ magnitude: Double) { self.kind = kind; self.magnitude = magnitude }
    }

    /// The ops for one image, drawn as torchvision does: the op, then the sign coin for signed ops.
    public func draw(height: Int, width: Int, rng: inout SampleRandom) -> [Operation] {
        (0..<numOps).map { _ in
            let kind = Kind.allCases[rng.below(Kind.allCases.count)]
            var m = kind.magnitude(bin: magnitude, height: height, width: width)
            if kind.isSigned && rng.coin() { m = -m }
            return Operation(kind, m)
        }
    }

    /// Draws and applies the ops.
    public func apply(to image: PixelImage, rng: inout SampleRandom) -> PixelImage {
        guard !isNone else { return image }
        return draw(height: image.height, width: image.width, rng: &rng).reduce(image) { Self.apply($1, to: $0) }
    }

    /// One op, as torchvision's `_apply_op`.
    public static func apply(_ op: Operation, to image: PixelImage) -> PixelImage {
        let m = op.magnitude
        switch op.kind {
        case .identity: return image
        // F.affine(shear=atan(m) degrees, center=[0, 0]): input col = col + m * (row + 0.5) (pixel-centre grid).
        case .shearX: return warp(image, Affine2D(a: 1, b: 0, c: 0, d: m, e: 1, f: 0.5 * m))
        case .shearY: return warp(image, Affine2D(a: 1, b: m, c: 0.5 * m, d: 0, e: 1, f: 0))
        // F.affine(translate=[int(m), 0]) moves the content by whole pixels.
        case .translateX: return warp(image, .translation(0, -Double(Int(m))))
        case .translateY: return warp(image, .translation(-Double(Int(m)), 0))
        case .rotate: return warp(image, rotation(degrees: m, height: image.height, width: image.width))
        case .brightness: return ColorAdjust.brightness(image, factor: Float(1 + m))
        case .color: return ColorAdjust.saturation(image, factor: Float(1 + m))
        case .contrast: return ColorAdjust.contrast(image, factor: Float(1 + m))
        case .sharpness: return ColorAdjust.sharpness(image, factor: Float(1 + m))
        case .posterize: return ColorAdjust.posterize(image, bits: Int(m))
        case .solarize: return ColorAdjust.solarize(image, threshold: Float(m))
        case .autoContrast: return ColorAdjust.autocontrast(image)
        case .equalize: return ColorAdjust.equalize(image)
        }
    }

    /// `F.rotate(img, degrees)`: counter-clockwise on screen about the centre ((h-1)/2, (w-1)/2).
    public static func rotation(degrees: Double, height: Int, width: Int) -> Affine2D {
        let t = degrees * .pi / 180
        let cy = Double(height - 1) / 2, cx = Double(width - 1) / 2
        return .translation(cy, cx) * Affine2D(a: cos(t), b: sin(t), c: 0, d: -sin(t), e: cos(t), f: 0) * .translation(-cy, -cx)
    }

    /// Resamples through `matrix` (output to input) with fill 0 and rounds back to 8 bits.
    static func warp(_ image: PixelImage, _ matrix: Affine2D) -> PixelImage {
        if matrix.isIdentity { return image }
        let ch = image.channels
        var floats = [Float](repeating: 0, count: image.pixels.count)
        floats.withUnsafeMutableBufferPointer { buf in
            AffineWarp.warp(image, matrix: matrix, outHeight: image.height, outWidth: image.width, fill: .constant, cval: 0,
                            scale: Array(repeating: 1, count: ch), bias: Array(repeating: 0, count: ch), into: buf.baseAddress!)
        }
        return PixelImage(width: image.width, height: image.height, channels: ch,
                          pixels: floats.map { UInt8(Swift.max(0, Swift.min(255, $0.rounded(.toNearestOrEven)))) })
    }
}
