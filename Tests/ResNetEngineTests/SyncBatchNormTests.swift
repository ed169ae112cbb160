import XCTest
@testable import ResNetEngine

/// Synchronized batch norm (`--sync-bn`) and backward's per-leaf hook, the two engine pieces of
/// data-parallel training.
final class SyncBatchNormTests: XCTestCase {
    /// The sum over one process: what a single rank of a one-rank run sees.
    final class OneProcess: CrossProcessSum {
        var calls = 0
        func sumOverProcesses(_ values: inout [Double]) { calls += 1 }
    }

    /// Two identical processes: every sum doubles, so global statistics equal the local ones and
    /// the result must still equal plain batch norm (the counts double with the sums).
    final class TwinProcesses: CrossProcessSum {
        func sumOverProcesses(_ values: inout [Double]) { for i in values.indices { values[i] *= 2 } }
    }

    /// Output, input gradient, parameter gradients and running statistics against `batchNorm`.
    func testMatchesBatchNormForwardAndBackward() {
        for relu in [false, true] {
            for reducer in [OneProcess(), TwinProcesses()] as [any CrossProcessSum] {
                let x = Tensor.randomNormal([3, 4, 5, 6], std: 1.5, mean: 0.4, seed: 11)
                let dy = Tensor.randomNormal([3, 4, 5, 6], seed: 12)
                func run(_ sync: Bool) -> (y: [Float], dx: [Float], dscale: [Float], dshift: [Float], mean: [Float], variance: [Float]) {
                    let xs = Tensor(shape: x.shape, values: x.toArray(), requiresGrad: true)
                    let scale = Tensor(shape: [6], values: [0.5, 1, 1.5, 2, -1, 0.25], requiresGrad: true)
                    let shift = Tensor(shape: [6], values: [0.1, -0.2, 0.3, 0, 0.5, -1], requiresGrad: true)
                    let stats = BatchNormStatistics(mean: Tensor(zeros: [6]), variance: Tensor(repeating: 1, shape: [6]))
                    let y = sync ? syncBatchNorm(xs, scale: scale, shift: shift, statistics: stats, relu: relu, across: reducer)
                                 : batchNorm(xs, scale: scale, shift: shift, statistics: stats, training: true, relu: relu)
                    y.backward(seed: dy)
                    return (y.toArray(), xs.grad!.toArray(), scale.grad!.toArray(), shift.grad!.toArray(),
                            stats.mean.toArray(), stats.variance.toArray())
                }
                let (a, b) = (run(true), run(false))
                // The running variance is unbiased over the global count: twins count 2n values, not n.
                let n: Float = 3 * 4 * 5, global = reducer is TwinProcesses ? 2 * n : n
                let expectedVariance = b.variance.map { 0.9 + ($0 - 0.9) * (n - 1) / n * global / (global - 1) }
                for (name, p, q) in [("y", a.y, b.y), ("dx", a.dx, b.dx), ("dscale", a.dscale, b.dscale), ("dshift", a.dshift, b.dshift),
                                     ("running mean", a.mean, b.mean), ("running var", a.variance, expectedVariance)] {
                    let scale = max(q.map(abs).max()!, 1e-3)
                    let worst = zip(p, q).map { abs($0 - $1) }.max()!
                    XCTAssertLessThan(worst / scale, 1e-5, "\(name) relu \(relu) \(type(of: reducer))")
                }
            }
        }
    }

    /// Forward sums once, backward once: two collectives per layer per step, in the same order everywhere.
    func testOneSumInForwardAndOneInBackward() {
        let reducer = OneProcess()
        let x = Tensor.randomNormal([2, 3, 3, 4], seed: 3)
        let xs = Tensor(shape: x.shape, values: x.toArray(), requiresGrad: true)
        let y = syncBatchNorm(xs, scale: Tensor(repeating: 1, shape: [4]), shift: Tensor(zeros: [4]),
                              statistics: BatchNormStatistics(mean: Tensor(zeros: [4]), variance: Tensor(repeating: 1, shape: [4])),
                              across: reducer)
        XCTAssertEqual(reducer.calls, 1)
        sum(y).backward()
        XCTAssertEqual(reducer.calls, 2)
    }

    /// `whenFinal` sees each leaf once, after its last gradient was added (a leaf used twice too).
    func testBackwardReportsEachLeafOnceWhenFinal() {
        let a = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
        let b = Tensor(shape: [2], values: [3, 4], requiresGrad: true)
        let loss = sum(add(multiply(a, b), multiply(a, a)))   // a reached by three edges
        var seen: [(ObjectIdentifier, [Float])] = []
        loss.backward(whenFinal: { seen.append((ObjectIdentifier($0), $0.grad!.toArray())) })
        XCTAssertEqual(seen.count, 2)
        XCTAssertEqual(Set(seen.map(\.0)), [ObjectIdentifier(a), ObjectIdentifier(b)])
        for (id, grad) in seen { XCTAssertEqual(grad, id == ObjectIdentifier(a) ? a.grad!.toArray() : b.grad!.toArray()) }
        XCTAssertEqual(a.grad!.toArray(), [5, 8])   // b + 2a
    }
}
