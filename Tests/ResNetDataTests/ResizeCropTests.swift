import XCTest
@testable import ResNetData

/// ImageNet-style steps: resize (nearest, antialiased bilinear, shorter side), crops.
final class ResizeCropTests: XCTestCase {
    func testNearestPicksPixelCentres() {
        let img = Pattern.distinct(width: 4, height: 4, channels: 1)
        let small = Resize.resize(img, height: 2, width: 2, filter: .nearest)
        XCTAssertEqual(small.pixels, [img[1, 1, 0], img[1, 3, 0], img[3, 1, 0], img[3, 3, 0]])
        let big = Resize.resize(PixelImage(width: 2, height: 1, channels: 1, pixels: [1, 2]), height: 1, width: 4, filter: .nearest)
        XCTAssertEqual(big.pixels, [1, 1, 2, 2])
    }

    func testBilinearMatchesPILOnHandComputedValues() {
        // PIL: Image.fromarray([[0, 200]]).resize((4, 1), BILINEAR) -> [0, 50, 150, 200]
        let up = Resize.resize(PixelImage(width: 2, height: 1, channels: 1, pixels: [0, 200]), height: 1, width: 4, filter: .bilinear)
        XCTAssertEqual(up.pixels, [0, 50, 150, 200])
        // Halving [0, 255, 0, 255] with the widened (antialiasing) triangle: weights 3/7, 3/7, 1/7.
        let down = Resize.resize(PixelImage(width: 4, height: 1, channels: 1, pixels: [0, 255, 0, 255]), height: 1, width: 2, filter: .bilinear)
        XCTAssertEqual(down.pixels, [UInt8((255.0 * 3 / 7).rounded()), UInt8((255.0 * 4 / 7).rounded())])
        let flat = Resize.resize(PixelImage(width: 13, height: 7, channels: 3, fill: 77), height: 5, width: 9, filter: .bilinear)
        XCTAssertTrue(flat.pixels.allSatisfy { $0 == 77 })
    }

    func testShorterSideAndCenterCrop() {
        XCTAssertTrue(Resize.shorterSideSize(height: 375, width: 500, side: 256) == (256, 341))
        XCTAssertTrue(Resize.shorterSideSize(height: 500, width: 375, side: 256) == (341, 256))
        let img = Pattern.distinct(width: 6, height: 4, channels: 1)
        let crop = Crop.center(img, height: 2, width: 2)
        XCTAssertEqual(crop.pixels, [img[1, 2, 0], img[1, 3, 0], img[2, 2, 0], img[2, 3, 0]])
        let padded = Crop.crop(img, top: -1, left: 5, height: 2, width: 2)
        XCTAssertEqual(padded.pixels, [0, 0, img[0, 5, 0], 0])
        let pipeline = ImagePipeline.imageNetEvaluation(size: 8, resize: 10)
        XCTAssertEqual(pipeline.sizeHint, .shorterSideAtLeast(10))
        XCTAssertTrue(pipeline.outputSize(input: nil)! == (8, 8))
        var rng = SampleRandom(seed: 0)
        let out = pipeline.process(Pattern.smooth(width: 30, height: 20, channels: 3), rng: &rng)
        XCTAssertEqual([out.height, out.width, out.pixels.count], [8, 8, 192])
    }

    func testRandomResizedCropBoxesStayInsideAndRespectScale() {
        for index in 0..<200 {
            var rng = SampleRandom(seed: 1, epoch: 0, index: index)
            let box = Crop.randomResizedBox(height: 100, width: 80, scale: 0.25...1, ratio: (3.0 / 4)...(4.0 / 3), rng: &rng)
            XCTAssertTrue(box.top >= 0 && box.left >= 0 && box.top + box.height <= 100 && box.left + box.width <= 80, "\(box)")
            let fraction = Double(box.height * box.width) / 8000
            XCTAssertGreaterThan(fraction, 0.22)
        }
        var a = SampleRandom(seed: 5), b = SampleRandom(seed: 5)
        let p = ImagePipeline.imageNetTraining(size: 16)
        let img = Pattern.smooth(width: 40, height: 30, channels: 3)
        XCTAssertEqual(p.process(img, rng: &a).pixels, p.process(img, rng: &b).pixels)
    }
}
