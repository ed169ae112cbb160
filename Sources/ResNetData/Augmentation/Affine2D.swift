import Foundation

/// A 2-D affine map in (row, col) pixel coordinates, as scipy's `affine_transform` (and so
/// Keras) uses it: it maps an *output* pixel to the *input* point that is sampled there.
public struct Affine2D: Equatable, Sendable {
    /// input.row = a*row + b*col + c; input.col = d*row + e*col + f
    public var a, b, c, d, e, f: Double

    public init(a: Double, b: Double, c: Double, d: Double, e: Double, f: Double) {
        self.a = a; self.b = b; self.c = c; self.d = d; self.e = e; self.f = f
    }

    public static let identity = Affine2D(a: 1, b: 0, c: 0, d: 0, e: 1, f: 0)

    /// Translation by (rows, cols).
    public static func translation(_ rows: Double, _ cols: Double) -> Affine2D {
        Affine2D(a: 1, b: 0, c: rows, d: 0, e: 1, f: cols)
    }

    /// Composition: `(l * r).apply(p) == l.apply(r.apply(p))` (matrix product).
    public static func * (l: Affine2D, r: Affine2D) -> Affine2D {
        Affine2D(a: l.a * r.a + l.b * r.d, b: l.a * r.b + l.b * r.e, c: l.a * r.c + l.b * r.f + l.c,
                 d: l.d * r.a + l.e * r.d, e: l.d * r.b + l.e * r.e, f: l.d * r.c + l.e * r.f + l.f)
    }

    /// The input point sampled at output pixel (row, col).
    public func apply(row: Double, col: Double) -> (row: Double, col: Double) {
        (a * row + b * col + c, d * row + e * col + f)
    }

    /// Whether the map is the identity up to rounding noise (lets the warp take a fast path).
    public var isIdentity: Bool {
        abs(a - 1) < 1e-12 && abs(b) < 1e-12 && abs(c) < 1e-12 && abs(d) < 1e-12 && abs(e - 1) < 1e-12 && abs(f) < 1e-12
    }
}
