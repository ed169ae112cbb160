import XCTest
@testable import ResNetData

/// `--random-crop` (CIFAR's padded random crop) and `--random-erasing` (Zhong et al. 2017) on
/// hand-made images: where the content goes, what is filled, and that every draw is seeded.
final class RandomCropErasingTests: XCTestCase {
    /// 1 + y * width + x in every channel (plus 64 per channel): every pixel value is unique
    /// and none is 0, so zeros can only come from the padding.
    private func numbered(height: Int, width: Int, channels: Int = 1) -> PixelImage {
        var img = PixelImage(width: width, height: height, channels: channels)
        for y in 0..<height { for x in 0..<width { for c in 0..<channels { img[y, x, c] = UInt8(1 + y * width + x + 64 * c) } } }
        return img
    }

    /// The (dy, dx) in -pad...pad for which `out` is `img` shifted (out[y, x] = img[y + dy, x + dx],
    /// 0 outside), or nil when no such offset exists.
    private func offset(of out: [Float], from img: PixelImage, pad: Int) -> (Int, Int)? {
        var found: [(Int, Int)] = []
        for dy in -pad...pad {
            for dx in -pad...pad {
                var same = true
                for y in 0..<img.height where same {
                    for x in 0..<img.width where same {
                        for c in 0..<img.channels {
                            let sy = y + dy, sx = x + dx
                            let inside = sy >= 0 && sy < img.height && sx >= 0 && sx < img.width
                            let expected: Float = inside ? Float(img[sy, sx, c]) : 0
                            if out[(y * img.width + x) * img.channels + c] != expected { same = false; break }
                        }
                    }
                }
                if same { found.append((dy, dx)) }
            }
        }
        return found.count == 1 ? found[0] : nil
    }

    func testRandomCropShiftsByAtMostThePaddingWithZerosAndReachesEveryOffset() {
        let img = numbered(height: 8, width: 8, channels: 3)
        let pipeline = ImagePipeline(channels: 3, randomCropPadding: 2)
        XCTAssertNoThrow(try pipeline.validate())
        var seen = Set<Int>()
        for seed in 0..<400 {
            var rng = SampleRandom(seed: UInt64(seed), epoch: 3, index: 7, salt: RandomSalt.augmentation)
            let out = pipeline.process(img, rng: &rng)
            XCTAssertEqual(out.height, 8)
            XCTAssertEqual(out.width, 8)
            guard let (dy, dx) = offset(of: out.pixels, from: img, pad: 2) else {
                XCTFail("seed \(seed): the output is not the input shifted by at most 2 pixels with zero fill"); continue
            }
            seen.insert((dy + 2) * 5 + (dx + 2))
        }
        XCTAssertEqual(seen.count, 25, "all 25 offsets in -2...2 x -2...2 occur")
        // Through the 8-bit step alone: padding 0 is the identity and draws nothing.
        var rng = SampleRandom(seed: 1), before = rng.state
        XCTAssertEqual(Crop.randomPadded(img, pad: 0, rng: &rng), img)
        XCTAssertEqual(rng.state, before)
        // The largest offset: a shift of 2 down and right keeps the top-left 6x6 block.
        let shifted = Crop.crop(img, top: -2, left: -2, height: 8, width: 8)
        XCTAssertEqual(shifted[2, 2, 0], img[0, 0, 0])
        XCTAssertEqual(shifted[1, 7, 1], 0)
        before = rng.state
        _ = Crop.randomPadded(img, pad: 2, rng: &rng)
        XCTAssertNotEqual(rng.state, before)
    }

    func testRandomCropIsAppliedAfterTheResizeAndBeforeRescaleAndNormalisation() {
        // A 4x4 image resized to 8x8 (nearest: each pixel doubled), padded by 1: the crop sees the
        // resized image, and the zero fill becomes (0 * rescale - mean) / std like a black pixel.
        let small = numbered(height: 4, width: 4)
        var pipeline = ImagePipeline.keras(height: 8, width: 8, channels: 1, rescale: 0.5)
        pipeline.mean = [10]
        pipeline.std = [2]
        pipeline.randomCropPadding = 1
        let resized = Resize.resize(small, height: 8, width: 8, filter: .nearest)
        var offsets = Set<Int>()
        for seed in 0..<100 {
            var rng = SampleRandom(seed: UInt64(seed))
            let out = pipeline.process(small, rng: &rng)
            let raw = out.pixels.map { ($0 * 2 + 10) / 0.5 }  // undo the normalisation: back to pixel values
            guard let (dy, dx) = offset(of: raw, from: resized, pad: 1) else { XCTFail("seed \(seed)"); continue }
            offsets.insert((dy + 1) * 3 + dx + 1)
        }
        XCTAssertEqual(offsets.count, 9)
    }

    func testRandomCropIsLimitedToHalfTheImageSide() {
        XCTAssertNoThrow(try ImagePipeline.keras(height: 8, width: 10).with { $0.randomCropPadding = 4 }.validate())
        for bad in [5, -1, Int.max] {
            XCTAssertThrowsError(try ImagePipeline.keras(height: 8, width: 10).with { $0.randomCropPadding = bad }.validate()) { error in
                XCTAssertTrue("\(error)".contains("--random-crop must be between 0 and 4"), "\(error)")
            }
        }
    }

    // MARK: Random erasing

    /// A 32x32 RGB image through rescale 1/255 and ImageNet normalisation, with and without erasing.
    private let erasingImage = Pattern.smooth(width: 32, height: 24, channels: 3)
    private func erasingPipeline(_ p: Double) -> ImagePipeline {
        ImagePipeline(channels: 3, rescale: 1.0 / 255, mean: ImagePipeline.imageNetMean, std: ImagePipeline.imageNetStd,
                      randomErasing: RandomErasing(probability: p))
    }

    /// The image without erasing (the pipeline draws nothing else).
    private func unerased() -> [Float] {
        var rng = SampleRandom(seed: 0)
        return erasingPipeline(0).process(erasingImage, rng: &rng).pixels
    }

    func testErasingWithProbabilityOneErasesAPaperSizedRectangleOfRandomPixelValues() {
        let plain = unerased()
        let pipeline = erasingPipeline(1)
        let (scale, bias) = pipeline.affineScaleBias
        let h = 24, w = 32
        var areas: [Double] = [], aspects: [Double] = []
        for seed in 0..<300 {
            var replay = SampleRandom(seed: UInt64(seed), epoch: 1, index: 2)
            var rng = replay
            let out = pipeline.process(erasingImage, rng: &rng).pixels
            guard let box = pipeline.randomErasing.draw(height: h, width: w, rng: &replay) else {
                XCTAssertEqual(out, plain, "seed \(seed): no rectangle fitted, so nothing is erased"); continue
            }
            let area = Double(box.height * box.width) / Double(h * w), aspect = Double(box.height) / Double(box.width)
            areas.append(area)
            aspects.append(aspect)
            XCTAssertTrue((0.02...0.4).contains(area), "seed \(seed): area fraction \(area)")
            XCTAssertTrue((0.3...(1 / 0.3)).contains(aspect), "seed \(seed): aspect \(aspect)")
            XCTAssertTrue(box.top >= 0 && box.left >= 0 && box.top + box.height <= h && box.left + box.width <= w)
            var changed = 0
            for y in 0..<h {
                for x in 0..<w {
                    let inside = (box.top..<box.top + box.height).contains(y) && (box.left..<box.left + box.width).contains(x)
                    for c in 0..<3 {
                        let i = (y * w + x) * 3 + c
                        if !inside {
                            XCTAssertEqual(out[i], plain[i], "seed \(seed): (\(y), \(x)) is outside the rectangle")
                        } else {
                            // A random 8-bit pixel value k, normalised like the image: k * scale + bias.
                            let k = (out[i] - bias[c]) / scale[c]
                            XCTAssertTrue(k > -0.01 && k < 255.01 && abs(k - k.rounded()) < 0.01, "seed \(seed): \(out[i]) is not a normalised pixel value")
                            if out[i] != plain[i] { changed += 1 }
                        }
                    }
                }
            }
            XCTAssertGreaterThan(changed, box.height * box.width * 3 * 9 / 10, "seed \(seed): the rectangle is filled with random values")
        }
        XCTAssertGreaterThanOrEqual(areas.count, 290, "with P = 1 almost every image is erased (a try can fail to fit)")
        XCTAssertGreaterThan(areas.max()!, 0.34, "the paper's area range reaches 0.4 (torchvision's stops at 0.33)")
        XCTAssertLessThan(areas.min()!, 0.05)
        XCTAssertLessThan(aspects.min()!, 0.5)
        XCTAssertGreaterThan(aspects.max()!, 2)
    }

    func testErasingWithProbabilityZeroChangesNothingAndDrawsNothing() {
        let plain = ImagePipeline(channels: 3, rescale: 1.0 / 255, mean: ImagePipeline.imageNetMean, std: ImagePipeline.imageNetStd)
        for seed in 0..<50 {
            var a = SampleRandom(seed: UInt64(seed)), b = a
            XCTAssertEqual(erasingPipeline(0).process(erasingImage, rng: &a).pixels, plain.process(erasingImage, rng: &b).pixels)
            XCTAssertEqual(a.state, b.state, "P = 0 consumes no draws, so existing runs keep their streams")
        }
    }

    func testErasingWithProbabilityOneHalfErasesAboutHalfTheImages() {
        let plain = unerased()
        let pipeline = erasingPipeline(0.5)
        var erased = 0
        for seed in 0..<400 {
            var rng = SampleRandom(seed: UInt64(seed), epoch: 0, index: seed, salt: RandomSalt.augmentation)
            if pipeline.process(erasingImage, rng: &rng).pixels != plain { erased += 1 }
        }
        XCTAssertTrue((160...240).contains(erased), "\(erased) of 400 images erased with P = 0.5")
    }

    func testErasingProbabilityMustBeAFiniteProbability() {
        for bad in [Double.nan, .infinity, -0.1, 1.5, 2] {
            XCTAssertThrowsError(try erasingPipeline(bad).validate()) { error in
                XCTAssertTrue("\(error)".contains("--random-erasing"), "\(error)")
            }
        }
        for good in [0, 0.5, 1.0] { XCTAssertNoThrow(try erasingPipeline(good).validate()) }
    }

    // MARK: Seeding

    func testBothAreReproducibleFromSeedEpochAndIndex() {
        var pipeline = erasingPipeline(1)
        pipeline.steps = [.resize(height: 16, width: 16, filter: .bilinear)]
        pipeline.randomCropPadding = 3
        pipeline.augmentation = AffineAugmentation(horizontalFlip: true)
        func run(_ seed: UInt64, _ epoch: Int, _ index: Int) -> [Float] {
            var rng = SampleRandom(seed: seed, epoch: epoch, index: index, salt: RandomSalt.augmentation)
            return pipeline.process(erasingImage, rng: &rng).pixels
        }
        for index in 0..<20 {
            let a = run(9, 2, index)
            XCTAssertEqual(a, run(9, 2, index), "same (seed, epoch, index): same output")
            XCTAssertNotEqual(a, run(9, 2, index + 1), "another index: another output")
            XCTAssertNotEqual(a, run(9, 3, index), "another epoch: another output")
            XCTAssertNotEqual(a, run(10, 2, index), "another seed: another output")
        }
    }
}

extension ImagePipeline {
    /// A copy with `edit` applied.
    func with(_ edit: (inout ImagePipeline) -> Void) -> ImagePipeline {
        var p = self
        edit(&p)
        return p
    }
}
