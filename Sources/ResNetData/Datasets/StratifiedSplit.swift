/// Deterministic stratified splitting: each class is shuffled with its own stream from the
/// seed and cut by the ratios, so every split keeps the class balance and a seed always
/// gives the same split.
public enum StratifiedSplit {
    /// Splits positions 0..<labels.count into `ratios.count` disjoint parts that together cover
    /// every position. Per class, part sizes follow the ratios by largest remainder (so 10
    /// images at 8:1:1 give exactly 8, 1, 1). Each part is returned in ascending order.
    public static func split(labels: [Int], ratios: [Double], seed: UInt64) -> [[Int]] {
        precondition(!ratios.isEmpty && ratios.allSatisfy { $0 >= 0 } && ratios.reduce(0, +) > 0, "bad split ratios")
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
    static func partSizes(_ n: Int, ratios: [Double]) -> [Int] {
        let total = ratios.reduce(0, +)
        let exact = ratios.map { Double(n) * $0 / total }
        var sizes = exact.map { Int($0.rounded(.down)) }
        var remaining = n - sizes.reduce(0, +)
        let byRemainder = exact.indices.sorted { (exact[$0] - Double(sizes[$0]), -$0) > (exact[$1] - Double(sizes[$1]), -$1) }
        var i = 0
        while remaining > 0 { sizes[byRemainder[i % byRemainder.count]] += 1; remaining -= 1; i += 1 }
        return sizes
    }

    /// Parses "8:1:1" (or "0.8,0.1,0.1") into ratios for train, validation and test.
    public static func parseRatios(_ text: String) throws -> [Double] {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "," || $0 == "/" }).map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, parts.allSatisfy({ $0 != nil && $0! >= 0 }), let train = parts[0], train > 0 else {
            throw DataError.invalidArgument("split ratios must look like 8:1:1 (train:validation:test), got '\(text)'")
        }
        return parts.map { $0! }
    }
}
