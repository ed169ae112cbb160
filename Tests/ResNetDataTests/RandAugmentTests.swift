import XCTest
@testable import ResNetData

/// `--randaugment N,M` (Cubuk et al. 2020, torchvision's op set) on hand-made images: each op
/// changes pixels as torchvision's `_apply_op` does, magnitudes follow `_augmentation_space`,
/// and the ops drawn are fixed by (seed, epoch, index).
final class RandAugmentTests: XCTestCase {
    private func image(_ values: [UInt8], height: Int, width: Int, channels: Int = 1) -> PixelImage {
        PixelImage(width: width, height: height, channels: channels, pixels: values)
    }

    /// A gradient with no zero pixels, so zeros in an output can only come from the fill.
    private func gradient(height: Int, width: Int, channels: Int = 1) -> PixelImage {
        var img = PixelImage(width: width, height: height, channels: channels)
        for y in 0..<height { for x in 0..<width { for c in 0..<channels { img[y, x, c] = UInt8(10 + 7 * y + 3 * x + 40 * c) } } }
        return img
    }

    private func apply(_ kind: RandAugment.Kind, _ magnitude: Double, _ img: PixelImage) -> PixelImage {
        RandAugment.apply(.init(kind, magnitude), to: img)
    }

    // MARK: Magnitudes

    func testMagnitudesAreTorchvisionsAugmentationSpace() {
        typealias K = RandAugment.Kind
        XCTAssertEqual(K.allCases.count, 14)
        XCTAssertEqual(K.shearX.magnitude(bin: 30, height: 28, width: 28), 0.3, accuracy: 1e-12)
        XCTAssertEqual(K.shearY.magnitude(bin: 15, height: 28, width: 28), 0.15, accuracy: 1e-12)
        XCTAssertEqual(K.translateX.magnitude(bin: 30, height: 20, width: 331), 150, accuracy: 1e-9, "150/331 of the width")
        XCTAssertEqual(K.translateY.magnitude(bin: 30, height: 331, width: 20), 150, accuracy: 1e-9, "150/331 of the height")
        XCTAssertEqual(K.rotate.magnitude(bin: 9, height: 28, width: 28), 9, accuracy: 1e-12, "30 degrees at bin 30")
        for k in [K.brightness, .color, .contrast, .sharpness] {
            XCTAssertEqual(k.magnitude(bin: 30, height: 8, width: 8), 0.9, accuracy: 1e-12)
            XCTAssertEqual(k.magnitude(bin: 0, height: 8, width: 8), 0)
        }
        // 8 - round(bin / 7.5): 8 bits at 0, 7 from bin 4, 4 at 30.
        XCTAssertEqual([0, 3, 4, 11, 12, 30].map { K.posterize.magnitude(bin: $0, height: 8, width: 8) }, [8, 8, 7, 7, 6, 4])
        XCTAssertEqual(K.solarize.magnitude(bin: 0, height: 8, width: 8), 255)
        XCTAssertEqual(K.solarize.magnitude(bin: 30, height: 8, width: 8), 0)
        XCTAssertEqual(K.solarize.magnitude(bin: 10, height: 8, width: 8), 170, accuracy: 1e-9)
        XCTAssertEqual(K.allCases.filter(\.isSigned), [.shearX, .shearY, .translateX, .translateY, .rotate, .brightness, .color, .contrast, .sharpness])
    }

    // MARK: Photometric ops

    func testSolarizeInvertsOnlyValuesAtOrAboveTheThreshold() {
        let img = image([0, 100, 127, 128, 200, 255], height: 2, width: 3)
        XCTAssertEqual(apply(.solarize, 128, img).pixels, [0, 100, 127, 127, 55, 0])
        XCTAssertEqual(apply(.solarize, 255, img).pixels, [0, 100, 127, 128, 200, 0], "magnitude 0: only 255 itself")
    }

    func testPosterizeKeepsTheTopBits() {
        let img = image([0b1111_1111, 0b1010_1010, 0b0001_0111, 0b1000_0001], height: 2, width: 2)
        XCTAssertEqual(apply(.posterize, 4, img).pixels, [0b1111_0000, 0b1010_0000, 0b0001_0000, 0b1000_0000])
        XCTAssertEqual(apply(.posterize, 8, img), img, "8 bits: unchanged")
    }

    func testAutoContrastStretchesEachChannelToTheFullRange() {
        // Channel 0 spans 10...20; channel 1 is constant and stays as it is.
        let img = image([10, 50, 15, 50, 20, 50, 12, 50], height: 2, width: 2, channels: 2)
        XCTAssertEqual(apply(.autoContrast, 0, img).pixels, [0, 50, 127, 50, 255, 50, 51, 50])
    }

    func testEqualizeMapsATwoValueImageToBlackAndWhite() {
        // 512 pixels of 10 and 512 of 20: step = 512 / 255 = 2, lut[10] = 0, lut[20] = (512 + 1) / 2 > 255.
        let img = image((0..<1024).map { $0 < 512 ? 10 : 20 }, height: 32, width: 32)
        let out = apply(.equalize, 0, img)
        XCTAssertEqual(out.pixels.filter { $0 == 0 }.count, 512)
        XCTAssertEqual(out.pixels.filter { $0 == 255 }.count, 512)
        XCTAssertEqual(out[0, 0, 0], 0)
        XCTAssertEqual(out[31, 31, 0], 255)
        // Fewer than 255 pixels outside the top bin: torchvision (and PIL) leave the channel alone.
        let small = image([10, 20, 20, 20], height: 2, width: 2)
        XCTAssertEqual(apply(.equalize, 0, small), small)
    }

    func testBrightnessScalesAndClampsAndMagnitudeZeroIsTheIdentity() {
        let img = image([0, 10, 101, 200], height: 2, width: 2)
        XCTAssertEqual(apply(.brightness, 0, img), img)
        XCTAssertEqual(apply(.brightness, 0.5, img).pixels, [0, 15, 151, 255])
        XCTAssertEqual(apply(.brightness, -0.5, img).pixels, [0, 5, 50, 100])
    }

    func testContrastBlendsWithTheGrayMean() {
        let img = image([0, 100, 100, 200], height: 2, width: 2)  // mean 100
        XCTAssertEqual(apply(.contrast, 0, img), img)
        XCTAssertEqual(apply(.contrast, 0.5, img).pixels, [0, 100, 100, 250])
        XCTAssertEqual(apply(.contrast, -0.5, img).pixels, [50, 100, 100, 150])
    }

    func testColorBlendsWithGrayAndIsTheIdentityOnGrayImages() {
        let rgb = image([200, 100, 0, 50, 50, 50], height: 1, width: 2, channels: 3)
        // gray(200, 100, 0) = 0.2989 * 200 + 0.587 * 100 = 118.48 -> 118
        // gray(50, 50, 50) = 0.9999 * 50 = 49.995 -> 49: torchvision truncates the luma to 8 bits too.
        XCTAssertEqual(apply(.color, -0.9, rgb).pixels, [126, 116, 106, 49, 49, 49])
        XCTAssertEqual(apply(.color, 0, rgb), rgb)
        let gray = image([0, 90, 180, 255], height: 2, width: 2)
        XCTAssertEqual(apply(.color, 0.9, gray), gray)
        XCTAssertEqual(apply(.color, -0.9, gray), gray)
    }

    func testSharpnessBlendsTheInteriorWithTheSmoothedImage() {
        // A single bright pixel in the middle of a 3x3 image: the smoothed centre is 130 * 5/13 = 50.
        var img = PixelImage(width: 3, height: 3, channels: 1)
        img[1, 1, 0] = 130
        let soft = apply(.sharpness, -0.5, img)  // 0.5 * 130 + 0.5 * 50
        XCTAssertEqual(soft[1, 1, 0], 90)
        XCTAssertEqual(soft.pixels.filter { $0 != 0 }.count, 1, "the border is left as it is")
        XCTAssertEqual(apply(.sharpness, 0.5, img)[1, 1, 0], 170)
        XCTAssertEqual(apply(.sharpness, 0, img), img)
    }

    // MARK: Geometric ops

    func testShearXMovesAPixelByMagnitudeTimesItsRow() {
        // A bright pixel at row 4, column 3 of an 8x8 image. With m = -0.25 the output at (4, c)
        // samples column c - 0.25 * 4.5 = c - 1.125, so the pixel lands at column 4.125:
        // 7/8 of it at column 4 and 1/8 at column 5.
        var img = PixelImage(width: 8, height: 8, channels: 1)
        img[4, 3, 0] = 200
        let out = apply(.shearX, -0.25, img)
        XCTAssertEqual(out[4, 4, 0], 175)
        XCTAssertEqual(out[4, 5, 0], 25)
        XCTAssertEqual(out[4, 3, 0], 0)
        XCTAssertEqual(out.pixels.map(Int.init).reduce(0, +), 200, "every other pixel stays 0")
        // ShearY is the same along columns: a pixel at row 3, column 4 lands at row 4.125.
        var dot = PixelImage(width: 8, height: 8, channels: 1)
        dot[3, 4, 0] = 200
        let down = apply(.shearY, -0.25, dot)
        XCTAssertEqual(down[4, 4, 0], 175)
        XCTAssertEqual(down[5, 4, 0], 25)
        // The pivot is the top-left corner: row 0 moves by m * 0.5 only, so m = -2 moves it 1 pixel.
        var top = PixelImage(width: 8, height: 8, channels: 1)
        top[0, 2, 0] = 100
        XCTAssertEqual(apply(.shearX, -2, top)[0, 3, 0], 100)
    }

    func testTranslateMovesByWholePixelsWithZeroFill() {
        let img = gradient(height: 6, width: 6)
        let right = apply(.translateX, 2.7, img)  // int(2.7) = 2
        for y in 0..<6 {
            for x in 0..<6 { XCTAssertEqual(right[y, x, 0], x < 2 ? 0 : img[y, x - 2, 0], "(\(y), \(x))") }
        }
        let up = apply(.translateY, -3, img)
        for y in 0..<6 {
            for x in 0..<6 { XCTAssertEqual(up[y, x, 0], y >= 3 ? 0 : img[y + 3, x, 0], "(\(y), \(x))") }
        }
    }

    func testRotateIsCounterClockwiseAboutTheCentre() {
        // A 5x5 image with one pixel right of the centre: a 90 degree turn counter-clockwise on
        // screen takes it above the centre.
        var img = PixelImage(width: 5, height: 5, channels: 1)
        img[2, 4, 0] = 100
        let out = apply(.rotate, 90, img)
        XCTAssertEqual(out[0, 2, 0], 100)
        XCTAssertEqual(out.pixels.filter { $0 != 0 }.count, 1)
        XCTAssertEqual(apply(.rotate, -90, img)[4, 2, 0], 100, "negative: clockwise")
    }

    func testMagnitudeZeroKeepsEveryGeometricOpTheIdentity() {
        let img = gradient(height: 7, width: 9, channels: 3)
        let ra = RandAugment(numOps: 3, magnitude: 0)
        for kind in [RandAugment.Kind.shearX, .shearY, .translateX, .translateY, .rotate, .identity] {
            XCTAssertEqual(RandAugment.apply(.init(kind, kind.magnitude(bin: 0, height: 7, width: 9)), to: img), img, "\(kind)")
            XCTAssertEqual(RandAugment.apply(.init(kind, -kind.magnitude(bin: 0, height: 7, width: 9)), to: img), img, "\(kind), negated")
        }
        XCTAssertNoThrow(try ra.validate())
    }

    // MARK: Drawing and seeding

    func testDrawsNOpsWithSignsReproduciblyPerSeedEpochAndIndex() {
        let ra = RandAugment(numOps: 3, magnitude: 20)
        func ops(_ seed: UInt64, _ epoch: Int, _ index: Int) -> [RandAugment.Operation] {
            var rng = SampleRandom(seed: seed, epoch: epoch, index: index, salt: RandomSalt.augmentation)
            return ra.draw(height: 28, width: 28, rng: &rng)
        }
        var kinds = Set<Int>(), negative = 0, signed = 0
        for index in 0..<300 {
            let drawn = ops(5, 1, index)
            XCTAssertEqual(drawn.count, 3, "N ops")
            XCTAssertEqual(drawn, ops(5, 1, index), "same (seed, epoch, index): same ops")
            for op in drawn {
                kinds.insert(op.kind.rawValue)
                XCTAssertEqual(abs(op.magnitude), op.kind.magnitude(bin: 20, height: 28, width: 28), accuracy: 1e-12)
                if op.kind.isSigned { signed += 1; if op.magnitude < 0 { negative += 1 } }
                else { XCTAssertGreaterThanOrEqual(op.magnitude, 0, "\(op.kind) is never negated") }
            }
        }
        XCTAssertEqual(kinds.count, 14, "every op is drawn")
        XCTAssertEqual(Double(negative) / Double(signed), 0.5, accuracy: 0.08, "signed ops negated half the time")
        let differing = (0..<50).filter { ops(5, 1, $0) != ops(5, 1, $0 + 1) }.count
        XCTAssertGreaterThanOrEqual(differing, 48, "another index draws other ops")
        XCTAssertNotEqual((0..<10).map { ops(5, 1, $0) }, (0..<10).map { ops(5, 2, $0) }, "another epoch draws other ops")
    }

    func testApplyRunsTheDrawnOpsInOrderAndThePipelineIsReproducible() {
        let img = gradient(height: 12, width: 12, channels: 3)
        let ra = RandAugment(numOps: 2, magnitude: 9)
        var rng = SampleRandom(seed: 3, epoch: 0, index: 4), replay = rng
        let drawn = ra.draw(height: 12, width: 12, rng: &replay)
        let expected = drawn.reduce(img) { RandAugment.apply($1, to: $0) }
        XCTAssertEqual(ra.apply(to: img, rng: &rng), expected)
        XCTAssertEqual(rng.state, replay.state, "apply draws exactly what draw draws")

        let pipeline = ImagePipeline(channels: 3, rescale: 1.0 / 255, randAugment: ra)
        func run(_ index: Int) -> [Float] {
            var rng = SampleRandom(seed: 9, epoch: 2, index: index, salt: RandomSalt.augmentation)
            return pipeline.process(img, rng: &rng).pixels
        }
        XCTAssertEqual(run(1), run(1))
        XCTAssertNotEqual((0..<8).map(run), (1..<9).map(run))
        // Off: no draw at all, so runs without the option keep their streams.
        var off = SampleRandom(seed: 1), before = off.state
        XCTAssertEqual(RandAugment.none.apply(to: img, rng: &off), img)
        XCTAssertEqual(off.state, before)
    }

    func testGrayImagesWork() {
        let img = gradient(height: 10, width: 10)
        for kind in RandAugment.Kind.allCases {
            let out = RandAugment.apply(.init(kind, kind.magnitude(bin: 15, height: 10, width: 10)), to: img)
            XCTAssertEqual(out.channels, 1)
            XCTAssertEqual(out.pixels.count, 100, "\(kind)")
        }
    }

    // MARK: Options

    func testParsingAndValidationNameTheOptionAndItsLimits() throws {
        XCTAssertEqual(try RandAugment(parsing: "2,9"), RandAugment(numOps: 2, magnitude: 9))
        for bad in ["2", "2,9,1", "a,b", "", "2;9", "2.5,9"] {
            XCTAssertThrowsError(try RandAugment(parsing: bad)) { XCTAssertTrue("\($0)".contains("--randaugment"), "\($0)") }
        }
        for (n, m, limit) in [(2, 31, "30"), (2, -1, "30"), (-1, 9, "16"), (17, 9, "16")] {
            XCTAssertThrowsError(try RandAugment(numOps: n, magnitude: m).validate()) { error in
                XCTAssertTrue("\(error)".contains("--randaugment") && "\(error)".contains(limit), "\(error)")
            }
            XCTAssertThrowsError(try ImagePipeline(randAugment: RandAugment(numOps: n, magnitude: m)).validate())
        }
        XCTAssertNoThrow(try RandAugment(numOps: 16, magnitude: 30).validate())
        XCTAssertNoThrow(try RandAugment(numOps: 0, magnitude: 0).validate())
    }
}
