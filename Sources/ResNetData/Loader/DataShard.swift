/// One process's share of every epoch in data-parallel training, as PyTorch's `DistributedSampler`:
/// all processes draw the same seeded permutation, pad it by repeating its head to a multiple of
/// `count`, and take every `count`-th index from `rank`, so each holds a disjoint slice of equal
/// length and all take the same number of steps. `whole` (count 1) is the plain, unpadded order.
public struct DataShard: Sendable, Equatable, CustomStringConvertible {
    public let rank: Int
    public let count: Int

    /// Every index, unpadded: what a single process reads.
    public static let whole = DataShard(uncheckedRank: 0, count: 1)

    public init(rank: Int, count: Int) throws {
        guard count >= 1, (0..<count).contains(rank) else {
            throw DataError.invalidArgument("data shard \(rank) of \(count): the rank must be in 0..<count and count at least 1")
        }
        self.init(uncheckedRank: rank, count: count)
    }

    private init(uncheckedRank rank: Int, count: Int) {
        self.rank = rank
        self.count = count
    }

    /// Samples this shard takes from a dataset of `total`: the padded total divided evenly.
    public func length(of total: Int) -> Int { (total + count - 1) / count }

    /// This shard's indices of a full epoch order.
    public func select(_ order: [Int]) -> [Int] {
        guard count > 1, !order.isEmpty else { return order }
        let padded = length(of: order.count) * count
        return stride(from: rank, to: padded, by: count).map { order[$0 % order.count] }
    }

    public var description: String { "shard \(rank) of \(count)" }
}
