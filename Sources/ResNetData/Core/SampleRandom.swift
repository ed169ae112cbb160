/// SplitMix64: a tiny, fast generator whose whole state is one integer, so a stream can be
/// derived from (seed, epoch, index) and the same sample gets the same draws on any thread.
public struct SampleRandom: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(state: UInt64) { self.state = state }

    /// The stream for one sample of one epoch; `salt` separates independent uses
    /// (augmentation, shuffling, splitting) of the same seed.
    public init(seed: UInt64, epoch: Int = 0, index: Int = 0, salt: UInt64 = 0) {
        var h = SampleRandom.mix(seed ^ 0x5EED_0000_0000_0000 ^ salt)
        h = SampleRandom.mix(h ^ UInt64(bitPattern: Int64(epoch)))
        h = SampleRandom.mix(h ^ UInt64(bitPattern: Int64(index)))
        state = h
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SampleRandom.mix(state)
    }

    /// Uniform in [lo, hi] (a degenerate range returns `lo` without consuming a draw).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        if hi <= lo { return lo }
        let unit = Double(next() >> 11) * 0x1.0p-53
        return lo + (hi - lo) * unit
    }

    /// Uniform integer in 0..<bound.
    public mutating func below(_ bound: Int) -> Int { bound <= 1 ? 0 : Int(next(upperBound: UInt64(bound))) }

    /// A fair coin.
    public mutating func coin() -> Bool { next() & 1 == 1 }

    /// SplitMix64's finaliser: a strong 64-bit mixer.
    @inline(__always) static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A Fisher–Yates permutation of 0..<count drawn from this stream.
    public mutating func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, below(i + 1)) }
        }
        return order
    }
}

/// Salts that keep the pipeline's random streams independent of each other.
enum RandomSalt {
    static let augmentation: UInt64 = 0xA0
    static let shuffle: UInt64 = 0x5F
    static let split: UInt64 = 0x59
    static let batchMixing: UInt64 = 0x3B
}
