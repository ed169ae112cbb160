import Foundation

/// Beta(a, b) draws for mixup and CutMix's lambda (Zhang et al. 2018; Yun et al. 2019), from the
/// same seeded stream as every other draw, so a resumed run mixes exactly as the original did.
/// Beta = X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b) (Marsaglia and Tsang 2000), computed from the
/// logarithms so that a small alpha (draws near 0 or 1) never divides 0 by 0.
extension SampleRandom {
    /// Uniform in the open interval (0, 1): safe under `log`.
    public mutating func openUnit() -> Double { (Double(next() >> 11) + 0.5) * 0x1.0p-53 }

    /// A standard normal draw (Box–Muller; one of the pair is used, so every call costs two draws).
    public mutating func normal() -> Double {
        let u = openUnit(), v = openUnit()
        return (-2 * Foundation.log(u)).squareRoot() * cos(2 * Double.pi * v)
    }

    /// log X for X ~ Gamma(shape, 1), shape > 0. Marsaglia–Tsang for shape >= 1; below 1 the
    /// boost Gamma(a) = Gamma(a + 1) * U^(1/a), kept in logs (U^(1/a) underflows for small a).
    public mutating func logGamma(shape: Double) -> Double {
        precondition(shape > 0 && shape.isFinite, "gamma shape must be positive and finite")
        if shape < 1 { return logGamma(shape: shape + 1) + Foundation.log(openUnit()) / shape }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            let x = normal()
            let t = 1 + c * x
            guard t > 0 else { continue }
            let v = t * t * t
            let u = openUnit()
            if Foundation.log(u) < 0.5 * x * x + d - d * v + d * Foundation.log(v) { return Foundation.log(d * v) }
        }
    }

    /// A draw from Beta(a, b), in [0, 1].
    public mutating func beta(_ a: Double, _ b: Double) -> Double {
        let x = logGamma(shape: a), y = logGamma(shape: b)
        // x / (x + y) = 1 / (1 + exp(log y - log x)), finite for any pair of logs.
        return 1 / (1 + Foundation.exp(y - x))
    }
}
