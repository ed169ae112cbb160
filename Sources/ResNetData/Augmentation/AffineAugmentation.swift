import Foundation

/// How samples outside the image are filled (scipy/Keras `fill_mode`).
public enum FillMode: String, Sendable, CaseIterable {
    /// aaaa|abcd|dddd: the nearest edge pixel (Keras's default).
    case nearest
    /// kkkk|abcd|kkkk with k = `cval`.
    case constant
    /// dcba|abcd|dcba: mirrored about the pixel edge.
    case reflect
    /// abcd|abcd|abcd: periodic (scipy's `grid-wrap`; scipy's `wrap` overlaps the edge pixels).
    case wrap
}

/// One draw of the random transform, in Keras's units: `tx` is the shift along rows and `ty`
/// along columns, in pixels; angles in degrees; `zx` zooms rows and `zy` columns.
public struct AffineParameters: Equatable, Sendable {
    public var theta: Double = 0
    public var tx: Double = 0
    public var ty: Double = 0
    public var shear: Double = 0
    public var zx: Double = 1
    public var zy: Double = 1
    public var flipHorizontal = false
    public var flipVertical = false

    public init(theta: Double = 0, tx: Double = 0, ty: Double = 0, shear: Double = 0, zx: Double = 1, zy: Double = 1,
                flipHorizontal: Bool = false, flipVertical: Bool = false) {
        self.theta = theta; self.tx = tx; self.ty = ty; self.shear = shear; self.zx = zx; self.zy = zy
        self.flipHorizontal = flipHorizontal; self.flipVertical = flipVertical
    }

    /// The single affine map for these parameters on a `height` x `width` image, exactly as
    /// Keras's `apply_affine_transform` builds it (rotation · shift · shear · zoom, about the
    /// centre ((h-1)/2, (w-1)/2)), followed by the flips, which Keras applies afterwards.
    /// Like scipy it maps output to input, so a positive shift moves content towards smaller
    /// indices and a zoom above 1 shrinks the content.
    public func matrix(height: Int, width: Int) -> Affine2D {
        let t = theta * .pi / 180, s = shear * .pi / 180
        let rotation = Affine2D(a: cos(t), b: -sin(t), c: 0, d: sin(t), e: cos(t), f: 0)
        let shift = Affine2D.translation(tx, ty)
        let shearing = Affine2D(a: 1, b: -sin(s), c: 0, d: 0, e: cos(s), f: 0)
        let zoom = Affine2D(a: zx, b: 0, c: 0, d: 0, e: zy, f: 0)
        let oy = Double(height) / 2 - 0.5, ox = Double(width) / 2 - 0.5
        var m = Affine2D.translation(oy, ox) * rotation * shift * shearing * zoom * Affine2D.translation(-oy, -ox)
        if flipHorizontal { m = m * Affine2D(a: 1, b: 0, c: 0, d: 0, e: -1, f: Double(width - 1)) }
        if flipVertical { m = m * Affine2D(a: -1, b: 0, c: Double(height - 1), d: 0, e: 1, f: 0) }
        return m
    }
}

/// Keras `ImageDataGenerator`'s geometric augmentation. Every option composes into one
/// affine map per image, so the image is resampled once (bilinear) whatever is enabled.
public struct AffineAugmentation: Equatable, Sendable {
    /// Degrees; the angle is uniform in [-r, r].
    public var rotationRange: Double
    /// Below 1: a fraction of the width; otherwise pixels. Uniform in [-r, r].
    public var widthShiftRange: Double
    /// Below 1: a fraction of the height; otherwise pixels. Uniform in [-r, r].
    public var heightShiftRange: Double
    /// Shear angle in degrees, uniform in [-r, r].
    public var shearRange: Double
    /// Row and column zoom are drawn independently from this range ([1-z, 1+z] for Keras's `zoom_range=z`).
    public var zoomRange: ClosedRange<Double>
    /// Mirror left-right with probability 1/2.
    public var horizontalFlip: Bool
    /// Mirror top-bottom with probability 1/2.
    public var verticalFlip: Bool
    public var fillMode: FillMode
    /// Fill value for `.constant`, in pixel units (before rescaling), as in Keras.
    public var cval: Float
    /// A `zoomRange` argument that cannot form a range (nan, inf, negative), kept for
    /// `validate()` to name: building `(1-z)...(1+z)` from it would trap in the initialiser.
    var rejectedZoom: Double?

    public init(rotationRange: Double = 0, widthShiftRange: Double = 0, heightShiftRange: Double = 0,
                shearRange: Double = 0, zoomRange: Double = 0, horizontalFlip: Bool = false, verticalFlip: Bool = false,
                fillMode: FillMode = .nearest, cval: Float = 0) {
        self.rotationRange = rotationRange
        self.widthShiftRange = widthShiftRange
        self.heightShiftRange = heightShiftRange
        self.shearRange = shearRange
        if zoomRange.isFinite && zoomRange >= 0 {
            self.zoomRange = (1 - zoomRange)...(1 + zoomRange)
        } else {
            self.zoomRange = 1...1
            self.rejectedZoom = zoomRange
        }
        self.horizontalFlip = horizontalFlip
        self.verticalFlip = verticalFlip
        self.fillMode = fillMode
        self.cval = cval
    }

    /// Keras's `zoom_range` z: half the width of `zoomRange` (or the rejected argument).
    public var zoomAmount: Double { rejectedZoom ?? (zoomRange.upperBound - zoomRange.lowerBound) / 2 }

    /// Rejects ranges that are not finite or are negative (the draws are uniform in [-r, r], which
    /// a negative r collapses to a constant), naming the command-line option. Zoom must lie in
    /// [0, 1] so that no drawn zoom factor is negative.
    public func validate() throws {
        for (option, value) in [("--rotation", rotationRange), ("--width-shift", widthShiftRange),
                                ("--height-shift", heightShiftRange), ("--shear", shearRange)] {
            guard value.isFinite, value >= 0 else {
                throw DataError.invalidArgument("\(option) must be a finite number of at least 0, got \(value)")
            }
        }
        let zoom = zoomAmount
        guard rejectedZoom == nil, zoomRange.lowerBound.isFinite, zoomRange.upperBound.isFinite, zoomRange.lowerBound >= 0,
              zoom.isFinite, zoom <= 1 else {
            throw DataError.invalidArgument("--zoom must be a finite number between 0 and 1 (zoom drawn from [1-z, 1+z]), got \(zoom)")
        }
        guard cval.isFinite else { throw DataError.invalidArgument("--cval must be a finite number, got \(cval)") }
    }

    /// No geometric augmentation.
    public static let none = AffineAugmentation()

    /// The seed article's training augmentation: shift 0.1, shear 0.1, zoom 0.1, horizontal flip.
    public static let seedRecipe = AffineAugmentation(widthShiftRange: 0.1, heightShiftRange: 0.1, shearRange: 0.1,
                                                      zoomRange: 0.1, horizontalFlip: true)

    /// Whether every draw is the identity.
    public var isNone: Bool {
        rotationRange == 0 && widthShiftRange == 0 && heightShiftRange == 0 && shearRange == 0
            && zoomRange == 1...1 && !horizontalFlip && !verticalFlip
    }

    /// Draws the parameters for one image of size `height` x `width`.
    public func draw(height: Int, width: Int, rng: inout SampleRandom) -> AffineParameters {
        var p = AffineParameters()
        if rotationRange != 0 { p.theta = rng.uniform(-rotationRange, rotationRange) }
        if heightShiftRange != 0 {
            p.tx = rng.uniform(-heightShiftRange, heightShiftRange)
            if heightShiftRange < 1 { p.tx *= Double(height) }
        }
        if widthShiftRange != 0 {
            p.ty = rng.uniform(-widthShiftRange, widthShiftRange)
            if widthShiftRange < 1 { p.ty *= Double(width) }
        }
        if shearRange != 0 { p.shear = rng.uniform(-shearRange, shearRange) }
        if zoomRange != 1...1 {
            p.zx = rng.uniform(zoomRange.lowerBound, zoomRange.upperBound)
            p.zy = rng.uniform(zoomRange.lowerBound, zoomRange.upperBound)
        }
        if horizontalFlip { p.flipHorizontal = rng.coin() }
        if verticalFlip { p.flipVertical = rng.coin() }
        return p
    }
}
