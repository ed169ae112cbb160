import ResNetData
import XCTest

final class DataShardTests: XCTestCase {
    /// DistributedSampler: padded with the head of the order, rank-strided, equal lengths, and
    /// together the shards cover every index.
    func testShardsArePaddedStridedAndCoverTheOrder() throws {
        let order = [7, 3, 9, 1, 4]
        let shards = try (0..<2).map { try DataShard(rank: $0, count: 2).select(order) }
        XCTAssertEqual(shards[0], [7, 9, 4])
        XCTAssertEqual(shards[1], [3, 1, 7])
        XCTAssertEqual(Set(shards.flatMap { $0 }), Set(order))
        XCTAssertEqual(DataShard.whole.select(order), order)
        XCTAssertEqual(try DataShard(rank: 2, count: 3).length(of: 5), 2)
    }

    func testRankOutsideTheWorldIsRejected() {
        XCTAssertThrowsError(try DataShard(rank: 2, count: 2))
        XCTAssertThrowsError(try DataShard(rank: 0, count: 0))
    }

    /// A sharded loader takes ceil(N/count) samples per rank, so every rank steps as often.
    func testShardedLoaderStepsEquallyOnEveryRank() throws {
        let dataset = InMemoryDataset(storage: .init(pixels: [UInt8](repeating: 0, count: 10 * 4), labels: [UInt8](repeating: 0, count: 10),
                                                     height: 2, width: 2, channels: 1, name: "zeros"), classNames: ["a"])
        var batches: [Int] = [], orders: [[Int]] = []
        for rank in 0..<3 {
            let loader = try DataLoader(dataset: dataset, pipeline: ImagePipeline(channels: 1),
                                        options: LoaderOptions(batchSize: 2, seed: 5, workers: 1, shard: try DataShard(rank: rank, count: 3)))
            batches.append(loader.batchesPerEpoch)
            orders.append(loader.order(epoch: 1))
        }
        XCTAssertEqual(batches, [2, 2, 2])
        let whole = try DataLoader(dataset: dataset, pipeline: ImagePipeline(channels: 1), options: LoaderOptions(batchSize: 2, seed: 5, workers: 1))
        let permutation = whole.order(epoch: 1)
        for rank in 0..<3 { XCTAssertEqual(orders[rank], try DataShard(rank: rank, count: 3).select(permutation)) }
        XCTAssertEqual(Set(orders.flatMap { $0 }), Set(0..<10))
    }
}
