import XCTest
@testable import ResNetData

/// The 8:1:1 split: stratified, disjoint, complete, and stable for a seed.
final class SplitTests: XCTestCase {
    let labels = Array(repeating: 0, count: 100) + Array(repeating: 1, count: 50) + Array(repeating: 2, count: 10)
        + Array(repeating: 3, count: 1)

    func testStratifiedDisjointComplete() {
        let parts = StratifiedSplit.split(labels: labels.shuffledDeterministically(), ratios: [8, 1, 1], seed: 7)
        XCTAssertEqual(parts.count, 3)
        let shuffled = labels.shuffledDeterministically()
        func perClass(_ part: [Int]) -> [Int] { (0..<4).map { c in part.filter { shuffled[$0] == c }.count } }
        XCTAssertEqual(perClass(parts[0]), [80, 40, 8, 1])
        XCTAssertEqual(perClass(parts[1]), [10, 5, 1, 0])
        XCTAssertEqual(perClass(parts[2]), [10, 5, 1, 0])
        let all = parts.flatMap { $0 }
        XCTAssertEqual(all.count, labels.count, "no duplicates across parts")
        XCTAssertEqual(Set(all), Set(0..<labels.count), "every image is in exactly one part")
        for part in parts { XCTAssertEqual(part, part.sorted()) }
    }

    func testStableForASeedAndDifferentAcrossSeeds() {
        let a = StratifiedSplit.split(labels: labels, ratios: [8, 1, 1], seed: 1)
        XCTAssertEqual(a, StratifiedSplit.split(labels: labels, ratios: [8, 1, 1], seed: 1))
        XCTAssertNotEqual(a, StratifiedSplit.split(labels: labels, ratios: [8, 1, 1], seed: 2))
        // Hand-checked apportionment: 5 images at 8:1:1 -> 4, 1, 0 (largest remainder, ties to the earlier part).
        XCTAssertEqual(StratifiedSplit.partSizes(5, ratios: [8, 1, 1]), [4, 1, 0])
        XCTAssertEqual(StratifiedSplit.partSizes(10, ratios: [8, 1, 1]), [8, 1, 1])
        XCTAssertEqual(StratifiedSplit.partSizes(6000, ratios: [9, 1]), [5400, 600])
    }

    func testRatioParsing() throws {
        XCTAssertEqual(try StratifiedSplit.parseRatios("8:1:1"), [8, 1, 1])
        XCTAssertEqual(try StratifiedSplit.parseRatios("0.7,0.2,0.1"), [0.7, 0.2, 0.1])
        assertDataError(try StratifiedSplit.parseRatios("8:2"), contains: ["8:1:1", "'8:2'"])
        assertDataError(try StratifiedSplit.parseRatios("0:1:1"), contains: ["0:1:1"])
    }
}

extension Array {
    /// A fixed interleaving so class members are not contiguous.
    func shuffledDeterministically() -> [Element] {
        var rng = SampleRandom(seed: 99)
        return rng.permutation(count).map { self[$0] }
    }
}
