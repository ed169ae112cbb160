import XCTest
@testable import ResNetData

/// `--color-jitter B[,C[,S[,H]]]` as torchvision's `ColorJitter`: factor ranges, the random order,
/// hue rotation, gray images, and draws fixed by (seed, epoch, index).
final class ColorJitterTests: XCTestCase {
    private func rng(_ index: Int, epoch: Int = 0) -> SampleRandom {
        SampleRandom(seed: 11, epoch: epoch, index: index, salt: RandomSalt.augmentation)
    }

    func testFactorsStayWithinTheirRangesAndFillThem() {
        let jitter = ColorJitter(brightness: 0.4, contrast: 1.5, saturation: 0.2, hue: 0.1)
        var lows = [Double](repeating: .infinity, count: 4), highs = [Double](repeating: -.infinity, count: 4)
        var orders = Set<[Int]>()
        for index in 0..<2000 {
            var r = rng(index)
            let p = jitter.draw(rng: &r)
            let values = [p.brightness!, p.contrast!, p.saturation!, p.hue!]
            for k in 0..<4 { lows[k] = min(lows[k], values[k]); highs[k] = max(highs[k], values[k]) }
            XCTAssertEqual(p.order.sorted(), [0, 1, 2, 3])
            orders.insert(p.order)
        }
        // [max(0, 1-x), 1+x] for brightness, contrast (clipped at 0) and saturation; [-h, h] for hue.
        for (k, range) in [(0, 0.6...1.4), (1, 0.0...2.5), (2, 0.8...1.2), (3, -0.1...0.1)] {
            XCTAssertTrue(range.contains(lows[k]) && range.contains(highs[k]), "\(k): \(lows[k])...\(highs[k])")
            XCTAssertLessThan(lows[k] - range.lowerBound, 0.02 * (range.upperBound - range.lowerBound), "\(k) reaches its low end")
            XCTAssertLessThan(range.upperBound - highs[k], 0.02 * (range.upperBound - range.lowerBound), "\(k) reaches its high end")
        }
        XCTAssertEqual(orders.count, 24, "every order of the four adjustments occurs")
    }

    func testZeroAmountsAreSkippedAndOffDrawsNothing() {
        var r = rng(0)
        let p = ColorJitter(brightness: 0.3).draw(rng: &r)
        XCTAssertNotNil(p.brightness)
        XCTAssertNil(p.contrast)
        XCTAssertNil(p.saturation)
        XCTAssertNil(p.hue)
        let img = PixelImage(width: 2, height: 1, channels: 3, pixels: [10, 20, 30, 40, 50, 60])
        var off = rng(0)
        let before = off.state
        XCTAssertEqual(ColorJitter.none.apply(to: img, rng: &off), img)
        XCTAssertEqual(off.state, before)
        XCTAssertEqual(ColorJitter(values: [0.1, 0.2]), ColorJitter(brightness: 0.1, contrast: 0.2))
    }

    func testTheOrderMattersAndIsFollowed() {
        let img3 = PixelImage(width: 2, height: 1, channels: 1, pixels: [100, 200])
        // Brightness 2 then contrast 0.5: [200, 255] mean 227.5 -> [213, 241]; the other way: mean 150 -> [125, 175] -> [250, 255]
        XCTAssertEqual(ColorJitter.apply(.init(order: [0, 1, 2, 3], brightness: 2, contrast: 0.5), to: img3).pixels, [213, 241])
        XCTAssertEqual(ColorJitter.apply(.init(order: [1, 0, 2, 3], brightness: 2, contrast: 0.5), to: img3).pixels, [250, 255])
    }

    func testHueRotatesThePrimariesAndIsTheIdentityAtZero() {
        let primaries = PixelImage(width: 3, height: 1, channels: 3, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255])
        XCTAssertEqual(ColorAdjust.hue(primaries, shift: 1.0 / 3).pixels, [0, 255, 0, 0, 0, 255, 255, 0, 0], "red -> green -> blue -> red")
        XCTAssertEqual(ColorAdjust.hue(primaries, shift: -1.0 / 3).pixels, [0, 0, 255, 255, 0, 0, 0, 255, 0])
        let mixed = PixelImage(width: 2, height: 1, channels: 3, pixels: [200, 120, 40, 90, 90, 90])
        XCTAssertEqual(ColorAdjust.hue(mixed, shift: 0), mixed)
        XCTAssertEqual(ColorAdjust.hue(mixed, shift: 0.5).pixels[3...], [90, 90, 90], "gray has no hue")
    }

    func testSaturationAndHueAreTheIdentityOnGrayImages() {
        let gray = PixelImage(width: 3, height: 1, channels: 1, pixels: [0, 128, 255])
        let p = ColorJitter.Parameters(order: [2, 3, 0, 1], brightness: nil, contrast: nil, saturation: 0, hue: 0.4)
        XCTAssertEqual(ColorJitter.apply(p, to: gray), gray)
        var r = rng(3)
        let out = ColorJitter(brightness: 0.5, contrast: 0.5, saturation: 0.5, hue: 0.5).apply(to: gray, rng: &r)
        XCTAssertEqual(out.channels, 1)
        XCTAssertEqual(out.pixels.count, 3)
    }

    func testSameSeedEpochAndIndexGiveTheSameResult() {
        var img = PixelImage(width: 6, height: 6, channels: 3)
        for i in img.pixels.indices { img.pixels[i] = UInt8((i * 37) % 256) }
        let pipeline = ImagePipeline(channels: 3, rescale: 1.0 / 255, colorJitter: ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1))
        func run(_ index: Int, epoch: Int = 0) -> [Float] {
            var r = rng(index, epoch: epoch)
            return pipeline.process(img, rng: &r).pixels
        }
        for index in 0..<10 {
            XCTAssertEqual(run(index), run(index))
            XCTAssertNotEqual(run(index), run(index + 1), "another index: other factors")
            XCTAssertNotEqual(run(index), run(index, epoch: 1), "another epoch: other factors")
        }
    }

    func testParsingAndValidationNameTheOptionAndItsLimits() throws {
        XCTAssertEqual(try ColorJitter.parse("0.4"), [0.4])
        XCTAssertEqual(try ColorJitter.parse("0.4,0.4,0.4,0.1"), [0.4, 0.4, 0.4, 0.1])
        for bad in ["", "a", "0.1,,0.2", "1,2,3,4,5", "0.1;0.2"] {
            XCTAssertThrowsError(try ColorJitter.parse(bad)) { XCTAssertTrue("\($0)".contains("--color-jitter"), "\($0)") }
        }
        for (values, words) in [([Double.nan], "brightness"), ([-0.1], "brightness"), ([0, .infinity], "contrast"),
                                ([0, 0, 101], "saturation"), ([0, 0, 0, 0.6], "hue must be a finite number between 0 and 0.5"),
                                ([0, 0, 0, -0.1], "hue")] {
            XCTAssertThrowsError(try ImagePipeline(colorJitter: ColorJitter(values: values)).validate()) { error in
                XCTAssertTrue("\(error)".contains("--color-jitter \(words)"), "\(error)")
            }
        }
        XCTAssertNoThrow(try ColorJitter(values: [100, 100, 100, 0.5]).validate())
    }
}
