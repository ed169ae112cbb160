import XCTest
@testable import ResNetData

/// JPEG (within lossy tolerance) and binary PPM/PGM (exact) round trips.
final class JPEGAndPNMDecoderTests: XCTestCase {
    func testRGBJPEGRoundTripsWithinTolerance() throws {
        let img = Pattern.smooth(width: 16, height: 16, channels: 3)
        let bytes = try JPEGCodec.encode(img, quality: 100)
        let decoded = try ImageDecoder.decode(bytes, channels: 3)
        XCTAssertEqual(decoded.width, 16); XCTAssertEqual(decoded.height, 16)
        XCTAssertLessThanOrEqual(Pattern.maxAbsDiff(decoded.pixels, img.pixels), 4)
    }

    func testGrayJPEGRoundTripsAndExpandsToRGB() throws {
        let img = Pattern.smooth(width: 16, height: 8, channels: 1)
        let bytes = try JPEGCodec.encode(img, quality: 100)
        let gray = try ImageDecoder.decode(bytes, channels: 1)
        XCTAssertLessThanOrEqual(Pattern.maxAbsDiff(gray.pixels, img.pixels), 3)
        let rgb = try ImageDecoder.decode(bytes, channels: 3)
        for i in 0..<(16 * 8) {
            XCTAssertEqual(rgb.pixels[3 * i], rgb.pixels[3 * i + 1]); XCTAssertEqual(rgb.pixels[3 * i], rgb.pixels[3 * i + 2])
            XCTAssertLessThanOrEqual(abs(Int(rgb.pixels[3 * i]) - Int(img.pixels[i])), 3)
        }
    }

    func testColorJPEGToGrayGivesLuma() throws {
        let img = Pattern.smooth(width: 16, height: 16, channels: 3)
        let gray = try ImageDecoder.decode(try JPEGCodec.encode(img, quality: 100), channels: 1)
        let expected = (0..<256).map { ColorConversion.luma(img.pixels[3 * $0], img.pixels[3 * $0 + 1], img.pixels[3 * $0 + 2]) }
        XCTAssertLessThanOrEqual(Pattern.maxAbsDiff(gray.pixels, expected), 3)
    }

    func testProgressiveJPEG() throws {
        let img = Pattern.smooth(width: 24, height: 16, channels: 3)
        let bytes = try JPEGCodec.encode(img, quality: 100, progressive: true)
        let baseline = try JPEGCodec.encode(img, quality: 100)
        XCTAssertNotEqual(bytes, baseline, "progressive encoding should differ from baseline")
        XCTAssertTrue(bytes.contains(0xC2) , "expected an SOF2 (progressive) marker")
        XCTAssertLessThanOrEqual(Pattern.maxAbsDiff(try ImageDecoder.decode(bytes, channels: 3).pixels, img.pixels), 4)
    }

    func testCMYKJPEGConvertsToRGBWithAdobeConvention() throws {
        // Adobe-inverted CMYK with K = 255 (no black ink): RGB equals the C, M, Y bytes.
        let w = 16, h = 8
        var cmyk = PixelImage(width: w, height: h, channels: 4)
        let rgb = Pattern.smooth(width: w, height: h, channels: 3)
        for i in 0..<(w * h) {
            cmyk.pixels[4 * i] = rgb.pixels[3 * i]; cmyk.pixels[4 * i + 1] = rgb.pixels[3 * i + 1]
            cmyk.pixels[4 * i + 2] = rgb.pixels[3 * i + 2]; cmyk.pixels[4 * i + 3] = 255
        }
        let bytes = try JPEGCodec.encode(cmyk, quality: 100)
        let decoded = try ImageDecoder.decode(bytes, channels: 3)
        XCTAssertLessThanOrEqual(Pattern.maxAbsDiff(decoded.pixels, rgb.pixels), 5)
        // K = 128 halves every channel.
        for i in 0..<(w * h) { cmyk.pixels[4 * i + 3] = 128 }
        let darker = try ImageDecoder.decode(try JPEGCodec.encode(cmyk, quality: 100), channels: 3)
        let expected = rgb.pixels.map { UInt8((Int($0) * 128 + 127) / 255) }
        XCTAssertLessThanOrEqual(Pattern.maxAbsDiff(darker.pixels, expected), 5)
    }

    func testDCTScalingPicksTheSmallestSizeAboveTheTarget() throws {
        let img = Pattern.smooth(width: 64, height: 48, channels: 3)
        let bytes = try JPEGCodec.encode(img, quality: 95)
        XCTAssertEqual(try size(bytes, .atLeast(width: 8, height: 6)), [8, 6])       // 1/8
        XCTAssertEqual(try size(bytes, .atLeast(width: 16, height: 10)), [16, 12])   // 1/4
        XCTAssertEqual(try size(bytes, .atLeast(width: 17, height: 10)), [32, 24])   // 1/2
        XCTAssertEqual(try size(bytes, .atLeast(width: 40, height: 10)), [64, 48])   // full
        XCTAssertEqual(try size(bytes, .shorterSideAtLeast(12)), [16, 12])
        XCTAssertEqual(try size(bytes, .fullSize), [64, 48])
        // Downscaled content is still the image: its mean stays close to the original's.
        let small = try ImageDecoder.decode(bytes, channels: 3, sizeHint: .atLeast(width: 16, height: 12))
        let mean = { (p: [UInt8]) in Double(p.reduce(0) { $0 + Int($1) }) / Double(p.count) }
        XCTAssertEqual(mean(small.pixels), mean(img.pixels), accuracy: 3)
    }

    private func size(_ bytes: [UInt8], _ hint: DecodeSizeHint) throws -> [Int] {
        let img = try ImageDecoder.decode(bytes, channels: 3, sizeHint: hint)
        return [img.width, img.height]
    }

    func testPPMAndPGMRoundTripExactly() throws {
        let rgb = Pattern.distinct(width: 7, height: 3, channels: 3)
        XCTAssertEqual(try ImageDecoder.decode(try PNMCodec.encode(rgb), channels: 3), rgb)
        let gray = Pattern.distinct(width: 7, height: 3, channels: 1)
        let pgm = try PNMCodec.encode(gray)
        XCTAssertEqual(try ImageDecoder.decode(pgm, channels: 1), gray)
        let expanded = try ImageDecoder.decode(pgm, channels: 3)
        XCTAssertEqual(expanded.pixels, gray.pixels.flatMap { [$0, $0, $0] })
    }

    func testPNMHeaderCommentsAndSixteenBitMaxval() throws {
        // 2x1 P5 with a comment and maxval 65535: samples 0xFFFF and 0x8080 -> 255 and 128.
        let header = Array("P5\n# made by hand\n2 1\n65535\n".utf8)
        let img = try ImageDecoder.decode(header + [0xFF, 0xFF, 0x80, 0x80], channels: 1)
        XCTAssertEqual(img.pixels, [255, 128])
        // maxval 15 scales up: 15 -> 255, 5 -> 85
        let small = try ImageDecoder.decode(Array("P5 2 1 15 ".utf8) + [15, 5], channels: 1)
        XCTAssertEqual(small.pixels, [255, 85])
    }

    func testFormatIsSniffedFromBytesNotExtension() throws {
        let dir = TempDir()
        let img = Pattern.distinct(width: 2, height: 2, channels: 3)
        let path = dir.write("really-a-png.jpg", try PNGCodec.encode(img))
        XCTAssertEqual(try ImageDecoder.decode(file: path, channels: 3), img)
        let bogus = dir.write("bogus.png", Array("hello world".utf8))
        assertDataError(try ImageDecoder.decode(file: bogus, channels: 3), contains: [bogus, "not a JPEG, PNG"])
        assertDataError(try ImageDecoder.decode(file: dir.path + "/missing.png", channels: 3), contains: ["missing.png", "not found"])
        assertDataError(try ImageDecoder.decode([1, 2, 3], channels: 2), contains: ["channels must be 1 or 3"])
    }
}
