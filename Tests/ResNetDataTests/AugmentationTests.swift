import XCTest
@testable import ResNetData

/// Each Keras-style transform against hand-computed expectations.
final class AugmentationTests: XCTestCase {
    /// Warps a gray image with explicit parameters, no rescale.
    private func warp(_ img: PixelImage, _ p: AffineParameters, fill: FillMode = .nearest, cval: Float = 0) -> [Float] {
        var out = [Float](repeating: -1, count: img.pixels.count)
        out.withUnsafeMutableBufferPointer { buf in
            AffineWarp.warp(img, matrix: p.matrix(height: img.height, width: img.width), outHeight: img.height, outWidth: img.width,
                            fill: fill, cval: cval, scale: Array(repeating: 1, count: img.channels),
                            bias: Array(repeating: 0, count: img.channels), into: buf.baseAddress!)
        }
        return out
    }

    private func marked(height: Int, width: Int, at points: [(Int, Int)]) -> PixelImage {
        var img = PixelImage(width: width, height: height, channels: 1)
        for (r, c) in points { img[r, c, 0] = 255 }
        return img
    }

    func testWidthShiftOfPointOneMovesAMarkedPixelTwoColumnsOnATwentyWideImage() {
        let img = marked(height: 10, width: 20, at: [(4, 10)])
        // widthShiftRange 0.1 on width 20 means up to 2 pixels; ty = +2 samples input col c+2 at output col c.
        let out = warp(img, AffineParameters(ty: 0.1 * 20))
        XCTAssertEqual(out[4 * 20 + 8], 255)
        XCTAssertEqual(out.reduce(0, +), 255, "exactly one marked pixel remains")
        let down = warp(img, AffineParameters(tx: -0.1 * 10))  // height shift -1 row: content moves down one row
        XCTAssertEqual(down[5 * 20 + 10], 255)
    }

    func testDrawnShiftMovesTheCentroidByTheDrawnAmount() {
        let img = marked(height: 10, width: 20, at: [(4, 10)])
        let aug = AffineAugmentation(widthShiftRange: 0.1)
        for index in 0..<20 {
            var rng = SampleRandom(seed: 3, epoch: 0, index: index)
            let p = aug.draw(height: 10, width: 20, rng: &rng)
            XCTAssertLessThanOrEqual(abs(p.ty), 2.0)
            XCTAssertEqual(p.tx, 0)
            let out = warp(img, p)
            let mass = out.reduce(0, +)
            let centroid = out.enumerated().reduce(0.0) { $0 + Double($1.offset % 20) * Double($1.element) } / Double(mass)
            XCTAssertEqual(centroid, 10 - p.ty, accuracy: 1e-4, "bilinear shift keeps the mark's centroid at 10 - ty")
        }
    }

    func testFlipsMirrorExactly() {
        let img = Pattern.distinct(width: 5, height: 3, channels: 3)
        let h = warp(img, AffineParameters(flipHorizontal: true))
        let v = warp(img, AffineParameters(flipVertical: true))
        for r in 0..<3 {
            for c in 0..<5 {
                for k in 0..<3 {
                    XCTAssertEqual(h[(r * 5 + c) * 3 + k], Float(img[r, 4 - c, k]))
                    XCTAssertEqual(v[(r * 5 + c) * 3 + k], Float(img[2 - r, c, k]))
                }
            }
        }
    }

    func testZoomMapsCornersWhereTheMatrixSays() {
        // 9x9, centre (4, 4). Zoom 0.5: input = 4 + 0.5 * (output - 4).
        let m = AffineParameters(zx: 0.5, zy: 0.5).matrix(height: 9, width: 9)
        XCTAssertTrue(same(m.apply(row: 0, col: 0), (2, 2)))
        XCTAssertTrue(same(m.apply(row: 8, col: 8), (6, 6)))
        XCTAssertTrue(same(m.apply(row: 0, col: 8), (2, 6)))
        let img = marked(height: 9, width: 9, at: [(2, 2), (6, 6)])
        let out = warp(img, AffineParameters(zx: 0.5, zy: 0.5))
        XCTAssertEqual(out[0], 255)                 // corner (0,0) shows input (2,2)
        XCTAssertEqual(out[80], 255)                // corner (8,8) shows input (6,6)
        XCTAssertEqual(out[1], 127.5, accuracy: 1e-4)  // (0,1) samples (2, 2.5): half way
        // Zoom 2 (zoomed out): output (2,2) samples input (0,0); rows and columns independent.
        let z2 = AffineParameters(zx: 2, zy: 1).matrix(height: 9, width: 9)
        XCTAssertTrue(same(z2.apply(row: 2, col: 2), (0, 2)))
    }

    func testShearMapsPointsWhereTheMatrixSays() {
        // Shear 30°: input = c + [[1, -sin30], [0, cos30]] (output - c), c = (4, 4).
        let m = AffineParameters(shear: 30).matrix(height: 9, width: 9)
        let cos30 = 3.0.squareRoot() / 2
        XCTAssertTrue(same(m.apply(row: 4, col: 8), (2, 4 + 4 * cos30)))
        XCTAssertTrue(same(m.apply(row: 0, col: 4), (0, 4)))
        XCTAssertTrue(same(m.apply(row: 8, col: 0), (10, 4 - 4 * cos30)))
        // Bilinear sampling of a linear ramp is exact, so every in-range output equals the ramp at its preimage.
        let ramp = rampImage()
        let out = warp(ramp, AffineParameters(shear: 30))
        checkRamp(out, matrix: AffineParameters(shear: 30).matrix(height: 20, width: 20))
    }

    func testRotationNinetyDegrees() {
        let img = Pattern.distinct(width: 9, height: 9, channels: 1)
        let out = warp(img, AffineParameters(theta: 90))
        for r in 0..<9 { for c in 0..<9 { XCTAssertEqual(out[r * 9 + c], Float(img[8 - c, r, 0]), accuracy: 1e-3) } }
    }

    func testComposedTransformIsOneAffineMapSampledOnce() {
        let p = AffineParameters(theta: 7, tx: 1.5, ty: -2.25, shear: 4, zx: 0.9, zy: 1.1, flipHorizontal: true)
        let m = p.matrix(height: 20, width: 20)
        checkRamp(warp(rampImage(), p), matrix: m)
        // Flip composes on the output side: output col c reads where the unflipped map reads col 19 - c.
        let unflipped = AffineParameters(theta: 7, tx: 1.5, ty: -2.25, shear: 4, zx: 0.9, zy: 1.1).matrix(height: 20, width: 20)
        XCTAssertTrue(same(m.apply(row: 3, col: 5), unflipped.apply(row: 3, col: 14)))
    }

    func testFillModes() {
        let row = PixelImage(width: 4, height: 1, channels: 1, pixels: [10, 20, 30, 40])
        XCTAssertEqual(warp(row, AffineParameters(ty: 2), fill: .nearest), [30, 40, 40, 40])
        XCTAssertEqual(warp(row, AffineParameters(ty: 2), fill: .constant, cval: 7), [30, 40, 7, 7])
        XCTAssertEqual(warp(row, AffineParameters(ty: 2), fill: .reflect), [30, 40, 40, 30])
        XCTAssertEqual(warp(row, AffineParameters(ty: 2), fill: .wrap), [30, 40, 10, 20])
        XCTAssertEqual(warp(row, AffineParameters(ty: -2), fill: .reflect), [20, 10, 10, 20])
        XCTAssertEqual(warp(row, AffineParameters(ty: -2), fill: .wrap), [30, 40, 10, 20])
        XCTAssertEqual(warp(row, AffineParameters(ty: -2), fill: .nearest), [10, 10, 10, 20])
    }

    func testRescaleAndPerChannelNormalization() {
        let img = PixelImage(width: 1, height: 1, channels: 3, pixels: [255, 0, 51])
        let pipeline = ImagePipeline(channels: 3, rescale: 1.0 / 255, mean: [0.5, 0.5, 0.2], std: [0.25, 0.5, 0.1])
        var rng = SampleRandom(seed: 0)
        let out = pipeline.process(img, rng: &rng).pixels
        XCTAssertEqual(out[0], 2, accuracy: 1e-5)    // (1 - 0.5) / 0.25
        XCTAssertEqual(out[1], -1, accuracy: 1e-5)   // (0 - 0.5) / 0.5
        XCTAssertEqual(out[2], 0, accuracy: 1e-5)    // (0.2 - 0.2) / 0.1
        // Keras: cval is in pixel units and is rescaled like the pixels.
        let keras = ImagePipeline(channels: 1, augmentation: AffineAugmentation(widthShiftRange: 3, fillMode: .constant, cval: 255), rescale: 0.5)
        XCTAssertTrue(keras.process(PixelImage(width: 2, height: 1, channels: 1), rng: &rng).pixels.allSatisfy { $0 == 0 || $0 == 127.5 })
    }

    func testDrawsAreReproducibleInRangeAndVaryWithEpoch() {
        let aug = AffineAugmentation(rotationRange: 20, widthShiftRange: 0.1, heightShiftRange: 0.2, shearRange: 10,
                                     zoomRange: 0.1, horizontalFlip: true, verticalFlip: true)
        var flips = Set<Bool>()
        for index in 0..<100 {
            var a = SampleRandom(seed: 9, epoch: 2, index: index), b = SampleRandom(seed: 9, epoch: 2, index: index)
            let p = aug.draw(height: 50, width: 40, rng: &a)
            XCTAssertEqual(p, aug.draw(height: 50, width: 40, rng: &b))
            XCTAssertTrue(abs(p.theta) <= 20 && abs(p.ty) <= 4 && abs(p.tx) <= 10 && abs(p.shear) <= 10)
            XCTAssertTrue((0.9...1.1).contains(p.zx) && (0.9...1.1).contains(p.zy))
            XCTAssertNotEqual(p.zx, p.zy, "row and column zoom are independent draws")
            flips.insert(p.flipHorizontal)
            var c = SampleRandom(seed: 9, epoch: 3, index: index)
            XCTAssertNotEqual(p, aug.draw(height: 50, width: 40, rng: &c))
        }
        XCTAssertEqual(flips, [true, false])
        XCTAssertEqual(AffineAugmentation.seedRecipe.zoomRange, 0.9...1.1)
    }

    // MARK: helpers

    private func same(_ a: (row: Double, col: Double), _ b: (Double, Double)) -> Bool {
        abs(a.row - b.0) < 1e-9 && abs(a.col - b.1) < 1e-9
    }

    /// I(r, c) = 3r + 5c + 10 on 20x20 (max 162).
    private func rampImage() -> PixelImage {
        var img = PixelImage(width: 20, height: 20, channels: 1)
        for r in 0..<20 { for c in 0..<20 { img[r, c, 0] = UInt8(3 * r + 5 * c + 10) } }
        return img
    }

    private func checkRamp(_ out: [Float], matrix: Affine2D, file: StaticString = #filePath, line: UInt = #line) {
        var checked = 0
        for r in 0..<20 {
            for c in 0..<20 {
                let p = matrix.apply(row: Double(r), col: Double(c))
                guard p.row >= 0 && p.row <= 19 && p.col >= 0 && p.col <= 19 else { continue }
                XCTAssertEqual(Double(out[r * 20 + c]), 3 * p.row + 5 * p.col + 10, accuracy: 1e-3, file: file, line: line)
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 200, file: file, line: line)
    }

    /// nan/inf options used to reach the warp (nan batches) or trap building the zoom range;
    /// each is now refused by validate(), naming the Keras-style command-line option.
    func testNonFiniteAndOutOfRangeSettingsAreRejectedNamingTheOption() throws {
        func pipeline(_ aug: AffineAugmentation = .none, rescale: Float = 1.0 / 255, mean: [Float]? = nil, std: [Float]? = nil,
                      side: Int = 8) -> ImagePipeline {
            ImagePipeline(channels: 3, steps: [.resize(height: side, width: side, filter: .nearest)], augmentation: aug,
                          rescale: rescale, mean: mean, std: std)
        }
        assertDataError(try pipeline(rescale: .nan).validate(), contains: ["--rescale must be a finite number, got nan"])
        assertDataError(try pipeline(rescale: .infinity).validate(), contains: ["--rescale must be a finite number, got inf"])
        assertDataError(try pipeline(AffineAugmentation(zoomRange: .nan)).validate(), contains: ["--zoom must be a finite number between 0 and 1", "got nan"])
        assertDataError(try pipeline(AffineAugmentation(zoomRange: -0.5)).validate(), contains: ["--zoom", "got -0.5"])
        assertDataError(try pipeline(AffineAugmentation(zoomRange: .infinity)).validate(), contains: ["--zoom", "got inf"])
        assertDataError(try pipeline(AffineAugmentation(zoomRange: 1.5)).validate(), contains: ["--zoom", "got 1.5"])
        XCTAssertEqual(AffineAugmentation(zoomRange: .nan).zoomAmount.isNaN, true, "the rejected value is kept for the message")
        assertDataError(try pipeline(AffineAugmentation(rotationRange: .nan)).validate(), contains: ["--rotation must be a finite number of at least 0, got nan"])
        assertDataError(try pipeline(AffineAugmentation(rotationRange: -10)).validate(), contains: ["--rotation", "got -10.0"])
        assertDataError(try pipeline(AffineAugmentation(shearRange: .infinity)).validate(), contains: ["--shear must be", "got inf"])
        assertDataError(try pipeline(AffineAugmentation(widthShiftRange: .nan)).validate(), contains: ["--width-shift must be", "got nan"])
        assertDataError(try pipeline(AffineAugmentation(heightShiftRange: -.infinity)).validate(), contains: ["--height-shift must be", "got -inf"])
        assertDataError(try pipeline(AffineAugmentation(fillMode: .constant, cval: .nan)).validate(), contains: ["--cval must be a finite number, got nan"])
        assertDataError(try pipeline(mean: [0, .nan, 0]).validate(), contains: ["mean must be finite numbers"])
        assertDataError(try pipeline(std: [.infinity]).validate(), contains: ["std must be finite numbers"])
        assertDataError(try pipeline(std: [0.2, 0, 0.2]).validate(), contains: ["std must be above 0"])
        assertDataError(try pipeline(std: [-1]).validate(), contains: ["std must be above 0, got [-1.0]"])
        assertDataError(try pipeline(side: 100_000).validate(), contains: ["image height and width must be between 1 and 4096, got 100000x100000"])
        assertDataError(try ImagePipeline(steps: [.resizeShorterSide(5000, filter: .bilinear)]).validate(),
                        contains: ["shorter-side size must be between 1 and 4096, got 5000"])
        // The loader refuses such a pipeline before allocating a batch.
        let storage = InMemoryDataset.Storage(pixels: [1, 2, 3, 4], labels: [0], height: 2, width: 2, channels: 1, name: "mem")
        let ds = InMemoryDataset(storage: storage, classNames: ["a"])
        assertDataError(try DataLoader(dataset: ds, pipeline: pipeline(side: 100_000), options: LoaderOptions(workers: 1)), contains: ["4096"])
        // Everything valid still passes, at the limits too.
        XCTAssertNoThrow(try pipeline(.seedRecipe, side: 4096).validate())
        XCTAssertNoThrow(try pipeline(AffineAugmentation(rotationRange: 360, widthShiftRange: 30, heightShiftRange: 0.5, shearRange: 45,
                                                         zoomRange: 1, fillMode: .constant, cval: 255), mean: [0.5], std: [0.25]).validate())
        XCTAssertNoThrow(try ImagePipeline.imageNetTraining().validate())
        XCTAssertNoThrow(try ImagePipeline.imageNetEvaluation().validate())
    }
}
