import XCTest
@testable import ResNetData

/// mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019) on hand-made batches: the lambdas, the
/// box, the pixels and the soft targets, and that every draw is seeded per (seed, epoch, batch).
final class BatchMixingTests: XCTestCase {
    /// `n` images of `h` x `w` x `c`: image i holds the value 10 * (i + 1) + pixel index / 1000
    /// everywhere, so a pixel tells which image (and which position) it came from.
    private func batch(_ n: Int = 4, h: Int = 8, w: Int = 6, c: Int = 2, labels: [Int32]? = nil, epoch: Int = 0, index: Int = 0) -> ImageBatch {
        var images: [Float] = []
        for i in 0..<n { for p in 0..<(h * w * c) { images.append(Float(10 * (i + 1)) + Float(p) / 1000) } }
        return ImageBatch(images: images, labels: labels ?? (0..<n).map { Int32($0) }, count: n, height: h, width: w, channels: c,
                          indices: Array(0..<n), epoch: epoch, batchIndex: index)
    }

    func testBetaSamplerHasTheRightMeanAndVariance() {
        for (a, b) in [(0.4, 0.4), (2.0, 5.0), (1.0, 1.0), (0.1, 0.1)] {
            var rng = SampleRandom(seed: 7)
            let draws = (0..<20_000).map { _ in rng.beta(a, b) }
            XCTAssertTrue(draws.allSatisfy { $0 >= 0 && $0 <= 1 && $0.isFinite }, "Beta(\(a), \(b)) in [0, 1]")
            let mean = draws.reduce(0, +) / Double(draws.count)
            let variance = draws.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(draws.count)
            XCTAssertEqual(mean, a / (a + b), accuracy: 0.01, "Beta(\(a), \(b)) mean")
            XCTAssertEqual(variance, a * b / ((a + b) * (a + b) * (a + b + 1)), accuracy: 0.01, "Beta(\(a), \(b)) variance")
        }
    }

    func testMixupBlendsEachImageWithTheReversedBatch() throws {
        let b = batch()
        let mixing = BatchMixing(mixupAlpha: 0.4)
        let mixed = try XCTUnwrap(mixing.mix(b, classes: 5, seed: 3))
        let lambda = Float(mixed.draw.lambda)
        XCTAssertFalse(mixed.draw.isCutMix)
        XCTAssertTrue((0...1).contains(lambda))
        XCTAssertNotEqual(lambda, 1, "this draw mixes")
        let per = 8 * 6 * 2
        for i in 0..<4 {
            let j = 3 - i
            for p in [0, 17, per - 1] {
                let expected = lambda * b.images[i * per + p] + (1 - lambda) * b.images[j * per + p]
                XCTAssertEqual(mixed.images[i * per + p], expected, accuracy: 1e-4, "image \(i) pixel \(p)")
            }
            XCTAssertEqual(mixed.targets[i * 5 + i], lambda, accuracy: 1e-6)
            XCTAssertEqual(mixed.targets[i * 5 + j], 1 - lambda, accuracy: 1e-6)
            XCTAssertEqual(mixed.dominantLabels[i], Int32(lambda >= 0.5 ? i : j))
        }
    }

    func testCutMixBoxFollowsLambdaAndPastesThePartnersPixels() throws {
        var rng = SampleRandom(seed: 1)
        // The box for lambda: sides int(H sqrt(1 - lambda)), centre within the image, clipped.
        for _ in 0..<500 {
            let lambda = rng.uniform(0, 1)
            let d = BatchMixing.cutmixBox(lambda: lambda, height: 8, width: 6, rng: &rng)
            let box = try XCTUnwrap(d.box)
            XCTAssertTrue(0 <= box.top && box.top <= box.bottom && box.bottom <= 8, "rows inside the image")
            XCTAssertTrue(0 <= box.left && box.left <= box.right && box.right <= 6, "columns inside the image")
            XCTAssertLessThanOrEqual(box.bottom - box.top, Int(8 * (1 - lambda).squareRoot()))
            XCTAssertLessThanOrEqual(box.right - box.left, Int(6 * (1 - lambda).squareRoot()))
            XCTAssertEqual(d.lambda, 1 - Double((box.bottom - box.top) * (box.right - box.left)) / 48, accuracy: 1e-12)
        }
        // A box in the middle: lambda 0.75 on 8x8 gives sides 4, centred at (cy, cx) -> rows cy-2..<cy+2.
        var centre = SampleRandom(seed: 0)
        let d = BatchMixing.cutmixBox(lambda: 0.75, height: 8, width: 8, rng: &centre)
        var again = SampleRandom(seed: 0)
        let cy = again.below(8), cx = again.below(8)
        XCTAssertEqual(d.box?.top, max(cy - 2, 0))
        XCTAssertEqual(d.box?.bottom, min(cy + 2, 8))
        XCTAssertEqual(d.box?.left, max(cx - 2, 0))
        XCTAssertEqual(d.box?.right, min(cx + 2, 8))

        // The pixels: inside the box from image N-1-i, outside unchanged; targets follow the area.
        let b = batch()
        let draw = BatchMixing.Draw(lambda: 1 - 6.0 / 48, box: (top: 2, left: 1, bottom: 4, right: 4))
        let mixed = BatchMixing.apply(draw, to: b, classes: 4)
        let (h, w, c) = (8, 6, 2)
        for i in 0..<4 {
            for y in 0..<h { for x in 0..<w { for ch in 0..<c {
                let p = (y * w + x) * c + ch
                let inside = (2..<4).contains(y) && (1..<4).contains(x)
                let from = inside ? 3 - i : i
                XCTAssertEqual(mixed.images[i * h * w * c + p], b.images[from * h * w * c + p], "image \(i) (\(y), \(x))")
            } } }
            XCTAssertEqual(mixed.targets[i * 4 + i] + (i == 3 - i ? 0 : mixed.targets[i * 4 + 3 - i]), 1, accuracy: 1e-6)
            XCTAssertEqual(mixed.targets[i * 4 + i], Float(42.0 / 48), accuracy: 1e-6)
        }
    }

    func testTargetsAreDistributionsAndDrawsAreSeededPerBatch() throws {
        let mixing = BatchMixing(mixupAlpha: 0.2, cutmixAlpha: 1.0)
        var kinds = (mixup: 0, cutmix: 0)
        for index in 0..<200 {
            let b = batch(5, labels: [0, 2, 2, 1, 4], index: index)
            let mixed = try XCTUnwrap(mixing.mix(b, classes: 5, seed: 11))
            XCTAssertTrue((0...1).contains(mixed.draw.lambda), "lambda \(mixed.draw.lambda)")
            for row in 0..<5 {
                let sum = mixed.targets[(row * 5)..<(row * 5 + 5)].reduce(0, +)
                XCTAssertEqual(sum, 1, accuracy: 1e-6, "row \(row) of batch \(index)")
                XCTAssertTrue(mixed.targets[(row * 5)..<(row * 5 + 5)].allSatisfy { $0 >= 0 })
            }
            if mixed.draw.isCutMix { kinds.cutmix += 1 } else { kinds.mixup += 1 }
            // Same (seed, epoch, batch): the same draw and pixels; another batch index or seed: another draw.
            let again = try XCTUnwrap(mixing.mix(b, classes: 5, seed: 11))
            XCTAssertEqual(again.draw, mixed.draw)
            XCTAssertEqual(again.images, mixed.images)
        }
        XCTAssertEqual(Double(kinds.cutmix) / 200, 0.5, accuracy: 0.1, "each batch picks CutMix or mixup with probability 0.5")
        let draws = (0..<20).map { mixing.draw(seed: 11, epoch: 0, batch: $0, height: 8, width: 6) }
        XCTAssertGreaterThan(Set(draws.map { $0!.lambda }).count, 15, "batches get their own lambdas")
        XCTAssertNotEqual(mixing.draw(seed: 11, epoch: 1, batch: 0, height: 8, width: 6), draws[0], "epochs too")
        XCTAssertNotEqual(mixing.draw(seed: 12, epoch: 0, batch: 0, height: 8, width: 6), draws[0], "and seeds")
        // Only one of the two on: always that one.
        XCTAssertTrue((0..<50).allSatisfy { BatchMixing(cutmixAlpha: 1).draw(seed: 1, epoch: 0, batch: $0, height: 8, width: 8)!.isCutMix })
        XCTAssertTrue((0..<50).allSatisfy { !BatchMixing(mixupAlpha: 1).draw(seed: 1, epoch: 0, batch: $0, height: 8, width: 8)!.isCutMix })
        XCTAssertNil(BatchMixing.none.mix(batch(), classes: 4, seed: 1))
    }

    func testAlphasAreValidated() {
        for bad in [BatchMixing(mixupAlpha: .nan), BatchMixing(cutmixAlpha: -1), BatchMixing(mixupAlpha: .infinity), BatchMixing(cutmixAlpha: 101)] {
            XCTAssertThrowsError(try bad.validate()) { error in
                XCTAssertTrue("\(error)".contains(bad.mixupAlpha != 0 ? "--mixup" : "--cutmix"), "\(error)")
            }
        }
        XCTAssertNoThrow(try BatchMixing(mixupAlpha: 0.2, cutmixAlpha: 1).validate())
    }
}
