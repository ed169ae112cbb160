import XCTest
@testable import ResNetEngine

/// The buffer pool's idle mapped memory: best fit, split, merged back. Addresses here are only
/// numbers (nothing is mapped), so every case can be laid out exactly.
final class IdleRangesTests: XCTestCase {
    private let mb = 1 << 20
    private func address(_ offsetMB: Int) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 0x1000_0000 + offsetMB << 20)! }

    func testBestFitSplitsTheFrontOffAndKeepsTheRest() throws {
        var r = IdleRanges(minimumPiece: mb)
        r.give(address(0), bytes: 100 * mb)
        r.give(address(200), bytes: 30 * mb)
        let a = try XCTUnwrap(r.take(25 * mb))
        XCTAssertEqual(a.pointer, address(200), "the smallest range that fits")
        XCTAssertEqual(a.bytes, 25 * mb)
        XCTAssertEqual(r.bytes, 105 * mb)
        let b = try XCTUnwrap(r.take(5 * mb))
        XCTAssertEqual(b.pointer, address(225), "what the split left")
        XCTAssertEqual(r.count, 1)
        XCTAssertNil(r.take(101 * mb))
        XCTAssertEqual(r.bytes, 100 * mb)
    }

    func testARemainderBelowTheMinimumPieceGoesWithTheAllocation() throws {
        var r = IdleRanges(minimumPiece: mb)
        r.give(address(0), bytes: 10 * mb)
        let a = try XCTUnwrap(r.take(10 * mb - 4096))
        XCTAssertEqual(a.bytes, 10 * mb, "a 4 KB remainder is not kept")
        XCTAssertEqual(r.bytes, 0)
        XCTAssertEqual(r.count, 0)
    }

    func testFreedNeighboursMergeIntoOneRange() throws {
        var r = IdleRanges(minimumPiece: mb)
        r.give(address(0), bytes: 40 * mb)
        let pieces = (0..<4).map { _ in r.take(10 * mb)! }
        XCTAssertEqual(pieces.map(\.pointer), [0, 10, 20, 30].map(address))
        XCTAssertEqual(r.count, 0)
        // Freed out of order: after, before, then the gap between two idle ranges.
        r.give(pieces[1].pointer, bytes: pieces[1].bytes)
        r.give(pieces[3].pointer, bytes: pieces[3].bytes)
        XCTAssertEqual(r.count, 2)
        r.give(pieces[0].pointer, bytes: pieces[0].bytes)
        r.give(pieces[2].pointer, bytes: pieces[2].bytes)
        XCTAssertEqual(r.count, 1)
        let whole = try XCTUnwrap(r.take(40 * mb))
        XCTAssertEqual(whole.pointer, address(0))
        XCTAssertEqual(whole.bytes, 40 * mb)
    }

    func testRemoveAllEmptiesIt() {
        var r = IdleRanges(minimumPiece: mb)
        r.give(address(0), bytes: 2 * mb)
        r.give(address(10), bytes: 3 * mb)
        XCTAssertEqual(r.removeAll().map(\.bytes).sorted(), [2 * mb, 3 * mb])
        XCTAssertEqual(r.bytes, 0)
        XCTAssertNil(r.take(mb))
    }
}
