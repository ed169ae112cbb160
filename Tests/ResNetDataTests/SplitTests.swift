import XCTest
@testable import ResNetData

/// The 8:1:1 split: stratified, disjoint, complete, and stable for a seed.
final class SplitTests: XCTestCase {
    let labels = Array(repeating: 0, count: 100) + Array(repeating: 1, count: 50) + Array(repeating: 2, count: 10)
        + Array(repeating: 3, count: 1)

    func testStratifiedDisjointComplete() throws {
        let parts = try StratifiedSplit.split(labels: labels.shuffledDeterministically(), ratios: [8, 1, 1], seed: 7)
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

    func testStableForASeedAndDifferentAcrossSeeds() throws {
        let a = try StratifiedSplit.split(labels: labels, ratios: [8, 1, 1], seed: 1)
        XCTAssertEqual(a, try StratifiedSplit.split(labels: labels, ratios: [8, 1, 1], seed: 1))
        XCTAssertNotEqual(a, try StratifiedSplit.split(labels: labels, ratios: [8, 1, 1], seed: 2))
        // Hand-checked apportionment: 5 images at 8:1:1 -> 4, 1, 0 (largest remainder, ties to the earlier part).
        XCTAssertEqual(StratifiedSplit.partSizes(5, ratios: [8, 1, 1]), [4, 1, 0])
        XCTAssertEqual(StratifiedSplit.partSizes(10, ratios: [8, 1, 1]), [8, 1, 1])
        XCTAssertEqual(StratifiedSplit.partSizes(6000, ratios: [9, 1]), [5400, 600])
    }

    func testRatioParsing() throws {
        XCTAssertEqual(try StratifiedSplit.parseRatios("8:1:1"), [8, 1, 1])
        XCTAssertEqual(try StratifiedSplit.parseRatios("0.7,0.2,0.1"), [0.7, 0.2, 0.1])
        assertDataError(try StratifiedSplit.parseRatios("8:2"), contains: ["8:1:1", "'8:2'"])
        assertDataError(try StratifiedSplit.parseRatios("0:1:1"), contains: ["--split '0:1:1'", "train ratio above 0"])
    }

    /// inf:1:1 and 1e308:1e308:1 crashed train, `data inspect` and `data export` (Int(nan)).
    func testNonFiniteNegativeAndHugeRatiosAreRejected() throws {
        assertDataError(try StratifiedSplit.parseRatios("inf:1:1"), contains: ["--split 'inf:1:1'", "finite", "inf"])
        assertDataError(try StratifiedSplit.parseRatios("nan:1:1"), contains: ["--split 'nan:1:1'", "finite"])
        assertDataError(try StratifiedSplit.parseRatios("1e308:1e308:1"), contains: ["--split '1e308:1e308:1'", "at most 1e12"])
        assertDataError(try StratifiedSplit.parseRatios("8:-1:3"), contains: ["--split", "must not be negative (found -1.0)"])
        XCTAssertEqual(try StratifiedSplit.parseRatios("1e12:1e12:1e12"), [1e12, 1e12, 1e12])
        // What the training module checks for ratios read back from a checkpoint.
        assertDataError(try StratifiedSplit.validateRatios([.infinity, 1, 1], source: "checkpoint.json field splitRatios"),
                        contains: ["checkpoint.json field splitRatios", "finite", "inf:1.0:1.0"])
        assertDataError(try StratifiedSplit.validateRatios([8, 1], source: "checkpoint.json field splitRatios"),
                        contains: ["checkpoint.json field splitRatios", "need 3 numbers"])
        XCTAssertNoThrow(try StratifiedSplit.validateRatios([8, 1, 1], source: "x"))
        // The split itself and the folder opener refuse them too, whoever calls.
        assertDataError(try StratifiedSplit.split(labels: [0, 0, 1], ratios: [1e308, 1e308, 1], seed: 0), contains: ["at most 1e12"])
        assertDataError(try StratifiedSplit.split(labels: [0, 0, 1], ratios: [.nan, 1], seed: 0), contains: ["finite"])
        let dir = TempDir()
        for i in 0..<4 { dir.write("a/\(i).pgm", try PNMCodec.encode(PixelImage(width: 1, height: 1, channels: 1))) }
        assertDataError(try DatasetSplits.openFolder(dir.path, ratios: [.infinity, 1, 1]), contains: ["split ratios: ratios must be finite"])
        assertDataError(try DatasetCatalog.open(data: dir.path, dataset: nil, ratios: [1e300, 1e300, 1]), contains: ["at most 1e12"])
        // Extreme but valid ratios still apportion exactly.
        XCTAssertEqual(StratifiedSplit.partSizes(10, ratios: [1e12, 1e12, 1]), [5, 5, 0])
        XCTAssertEqual(try DatasetSplits.openFolder(dir.path, ratios: [1e12, 0, 1e12]).train.count, 2)
    }
}

extension Array {
    /// A fixed interleaving so class members are not contiguous.
    func shuffledDeterministically() -> [Element] {
        var rng = SampleRandom(seed: 99)
        return rng.permutation(count).map { self[$0] }
    }
}
