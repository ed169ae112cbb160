/// Deterministic stratified splitting: each class is shuffled with its own stream from the
/// seed and cut by the ratios, so every split keeps the class balance and a seed always
/// gives the same split.
public enum StratifiedSplit {
    /// Splits positions 0..<labels.count into `ratios.count` disjoint parts that together cover
    /// every position. Per class, part sizes follow the ratios by largest remainder (so 10
    /// images at 8:1:1 give exactly 8, 1, 1). Each part is returned in ascending order.
    /// Throws for ratios `validateRatios` rejects, so no count is ever computed from them.
    public static func split(labels: [Int], ratios: [Double], seed: UInt64) throws -> [[Int]] {
        try validateRatios(ratios, source: "split ratios", count: ratios.count)
        var byClass: [Int: [Int]] = [:]
        for (position, label) in labels.enumerated() { byClass[label, default: []].append(position) }
        var parts = [[Int]](repeating: [], count: ratios.count)
        for label in byClass.keys.sorted() {
            let members = byClass[label]!
            var rng = SampleRandom(seed: seed, epoch: 0, index: label, salt: RandomSalt.split)
            let order = rng.permutation(members.count)
            let sizes = partSizes(members.count, ratios: ratios)
            var cursor = 0
            for (p, size) in sizes.enumerated() {
                parts[p].append(contentsOf: order[cursor..<cursor + size].map { members[$0] })
                cursor += size
            }
        }
        return parts.map { $0.sorted() }
    }

    /// Largest-remainder apportionment of `n` items by `ratios` (ties go to earlier parts).
    /// Each ratio is divided by the total first, so `n * share` stays within 0…n (a huge
    /// finite ratio times n would overflow to inf and NaN); callers validate the ratios.
    static func partSizes(_ n: Int, ratios: [Double]) -> [Int] {
        let total = ratios.reduce(0, +)
        let exact = ratios.map { Swift.min(Double(n), Swift.max(0, Double(n) * ($0 / total))) }
        var sizes = exact.map { Int($0.rounded(.down)) }
        var remaining = n - sizes.reduce(0, +)
        let byRemainder = exact.indices.sorted { (exact[$0] - Double(sizes[$0]), -$0) > (exact[$1] - Double(sizes[$1]), -$1) }
        var i = 0
        while remaining > 0 { sizes[byRemainder[i % byRemainder.count]] += 1; remaining -= 1; i += 1 }
        return sizes
    }

    /// Parses "8:1:1" (or "0.8,0.1,0.1") into ratios for train, validation and test.
    /// Rejects what `validateRatios` rejects (inf, nan, 1e308:1e308:1 …), naming `--split`.
    public static func parseRatios(_ text: String) throws -> [Double] {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "," || $0 == "/" }).map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, parts.allSatisfy({ $0 != nil }) else {
            throw DataError.invalidArgument("--split must look like 8:1:1 (train:validation:test), got '\(text)'")
        }
        let ratios = parts.map { $0! }
        try validateRatios(ratios, source: "--split '\(text)'")
        return ratios
    }

    /// Largest ratio accepted; far beyond any real use, and small enough that sums stay exact.
    public static let maxRatio = 1e12

    /// Checks train:validation:test ratios from anywhere (the command line, a checkpoint's
    /// `splitRatios`): `count` finite numbers in 0…1e12 with train > 0. Non-finite or huge
    /// ratios used to reach integer conversions and crash; `source` names where they came from.
    public static func validateRatios(_ ratios: [Double], source: String, count: Int = 3) throws {
        func fail(_ reason: String) -> DataError {
            .invalidArgument("\(source): ratios \(reason), got \(ratios.map { String($0) }.joined(separator: ":"))")
        }
        guard ratios.count == count else { throw fail("need \(count) numbers (train:validation:test, e.g. 8:1:1)") }
        if let bad = ratios.first(where: { !$0.isFinite }) { throw fail("must be finite numbers (found \(bad))") }
        if let bad = ratios.first(where: { $0 < 0 }) { throw fail("must not be negative (found \(bad))") }
        if let bad = ratios.first(where: { $0 > maxRatio }) { throw fail("must be at most 1e12 each (found \(bad))") }
        guard ratios[0] > 0 else { throw fail("need a train ratio above 0") }
        let total = ratios.reduce(0, +)
        guard total.isFinite, total > 0 else { throw fail("must have a finite, positive sum") }
    }
}
