import ResNetDistributed
import ResNetEngine
import XCTest

final class GradientBucketsTests: XCTestCase {
    /// Reverse parameter order, closed before the capacity is passed, a large gradient alone, and
    /// every element placed once.
    func testLayoutIsReverseOrderedAndBounded() {
        let counts = [4, 10, 3, 3, 20, 1]
        let params = counts.map { Tensor(zeros: [$0]) }
        let buckets = GradientBuckets(parameters: params, communicator: .single(), capacityBytes: 8 * 4)
        XCTAssertEqual(buckets.layout.map { $0.map(\.parameter) }, [[5], [4], [3, 2], [1], [0]])
        for members in buckets.layout {
            XCTAssertEqual(members.map(\.offset), members.indices.map { i in members[..<i].reduce(0) { $0 + $1.count } })
        }
        XCTAssertEqual(buckets.layout.flatMap { $0 }.map(\.count).reduce(0, +), counts.reduce(0, +))
        // The layout is a function of the shapes alone: another instance (another rank) agrees.
        XCTAssertEqual(GradientBuckets(parameters: counts.map { Tensor(zeros: [$0]) }, communicator: .single(), capacityBytes: 32).layout, buckets.layout)
    }

    /// In one process the mean over ranks is the gradient itself; a missing gradient becomes zeros;
    /// buckets whose gradients were all reported final are started during backward.
    func testSingleProcessKeepsGradientsAndCountsOverlap() {
        let a = Tensor(shape: [3], values: [1, 2, 3], requiresGrad: true)
        let b = Tensor(shape: [2], values: [4, 5], requiresGrad: true)
        let loss = sum(multiply(a, a)) // d/da = 2a; b gets no gradient
        let buckets = GradientBuckets(parameters: [a, b], communicator: .single(), capacityBytes: 8)
        loss.backward(whenFinal: { buckets.parameterFinished($0) })
        buckets.finish()
        XCTAssertEqual(a.grad?.toArray(), [2, 4, 6])
        XCTAssertEqual(b.grad?.toArray(), [0, 0])
        // a sits in the second bucket (reverse order) behind b's, which never became final.
        XCTAssertEqual(buckets.startedDuringBackward, 0)
        XCTAssertEqual(buckets.startedAfterBackward, 2)
    }

    func testSingleCommunicatorIsRankZeroOfOne() {
        let c = Communicator.single()
        XCTAssertEqual(c.rank, 0)
        XCTAssertEqual(c.size, 1)
        XCTAssertFalse(c.isDistributed)
        var v: [Double] = [1, 2]
        c.allReduceSum(&v)
        XCTAssertEqual(v, [1, 2])
        XCTAssertTrue(c.holdSameValues([Tensor(shape: [1], values: [1])]))
        XCTAssertFalse(Communicator.launchedByMPI([:]))
        XCTAssertTrue(Communicator.launchedByMPI(["OMPI_COMM_WORLD_SIZE": "2"]))
    }
}
