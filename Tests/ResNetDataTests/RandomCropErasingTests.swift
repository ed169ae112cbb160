import XCTest
@testable import ResNetData

/// `--random-crop` (CIFAR's padded random crop) on hand-made images: where the content goes and
/// what is filled.
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
}

extension ImagePipeline {
    /// A copy with `edit` applied.
    func with(_ edit: (inout ImagePipeline) -> Void) -> ImagePipeline {
        var p = self
        edit(&p)
        return p
    }
}
