import XCTest
@testable import ResNetData

/// Every PNG colour type libpng's simplified reader must handle, against known pixels.
final class PNGDecoderTests: XCTestCase {
    let w = 5, h = 4

    func testGrayRoundTripsExactlyAndExpandsToRGB() throws {
        let img = Pattern.distinct(width: w, height: h, channels: 1)
        let bytes = try PNGCodec.encode(img)
        XCTAssertEqual(try ImageDecoder.decode(bytes, channels: 1), img)
        let rgb = try ImageDecoder.decode(bytes, channels: 3)
        XCTAssertEqual(rgb.channels, 3)
        for i in 0..<(w * h) {
            XCTAssertEqual([rgb.pixels[3 * i], rgb.pixels[3 * i + 1], rgb.pixels[3 * i + 2]], Array(repeating: img.pixels[i], count: 3))
        }
    }

    func testRGBRoundTripsExactlyAndConvertsToGrayWithLuma() throws {
        let img = Pattern.distinct(width: w, height: h, channels: 3)
        let bytes = try PNGCodec.encode(img)
        XCTAssertEqual(try ImageDecoder.decode(bytes, channels: 3), img)
        let gray = try ImageDecoder.decode(bytes, channels: 1)
        // Hand-computed luma of the first pixel: (5, 42, 79) -> 0.299*5 + 0.587*42 + 0.114*79 = 35.2
        XCTAssertEqual(Array(img.pixels[0..<3]), [5, 42, 79])
        XCTAssertEqual(gray.pixels[0], 35)
    }

    func testRGBAAndGrayAlphaDropAlphaWithoutCompositing() throws {
        var rgba = Pattern.distinct(width: w, height: h, channels: 4)
        for i in 0..<(w * h) { rgba.pixels[4 * i + 3] = UInt8(i * 10) }  // includes fully transparent pixel 0
        let decoded = try ImageDecoder.decode(try PNGCodec.encode(rgba), channels: 3)
        for i in 0..<(w * h) {
            XCTAssertEqual(Array(decoded.pixels[3 * i..<3 * i + 3]), Array(rgba.pixels[4 * i..<4 * i + 3]), "pixel \(i)")
        }
        var ga = Pattern.distinct(width: w, height: h, channels: 2)
        for i in 0..<(w * h) { ga.pixels[2 * i + 1] = UInt8(255 - i) }
        let gray = try ImageDecoder.decode(try PNGCodec.encode(ga), channels: 1)
        XCTAssertEqual(gray.pixels, (0..<(w * h)).map { ga.pixels[2 * $0] })
    }

    func testPaletteWithTransparency() throws {
        let palette: [[UInt8]] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]
        let indices = (0..<(w * h)).map { $0 % 4 }
        let bytes = HandPNG.encode(width: w, height: h, colorType: 3, bitDepth: 8, samples: indices,
                                   palette: palette, transparency: [0, 128])
        let img = try ImageDecoder.decode(bytes, channels: 3)
        for i in 0..<(w * h) { XCTAssertEqual(Array(img.pixels[3 * i..<3 * i + 3]), palette[indices[i]], "pixel \(i)") }
    }

    func testSixteenBitGrayAndRGBScaleToEightBits() throws {
        let grayValues = (0..<(w * h)).map { ($0 * 13) % 256 }
        let gray16 = HandPNG.encode(width: w, height: h, colorType: 0, bitDepth: 16, samples: grayValues.map { $0 * 257 })
        XCTAssertEqual(try ImageDecoder.decode(gray16, channels: 1).pixels, grayValues.map(UInt8.init))
        let rgbValues = (0..<(w * h * 3)).map { ($0 * 29 + 3) % 256 }
        let rgb16 = HandPNG.encode(width: w, height: h, colorType: 2, bitDepth: 16, samples: rgbValues.map { $0 * 257 })
        XCTAssertEqual(try ImageDecoder.decode(rgb16, channels: 3).pixels, rgbValues.map(UInt8.init))
    }

    func testSixteenBitRGBAWithAlphaDropsAlpha() throws {
        let values = (0..<(w * h * 4)).map { i in i % 4 == 3 ? 65535 : ((i * 7) % 256) * 257 }
        let bytes = HandPNG.encode(width: w, height: h, colorType: 6, bitDepth: 16, samples: values)
        let img = try ImageDecoder.decode(bytes, channels: 3)
        let expected = (0..<(w * h)).flatMap { p in (0..<3).map { UInt8(values[4 * p + $0] / 257) } }
        XCTAssertEqual(img.pixels, expected)
    }

    func testInterlacedRGBAndGrayMatchTheNonInterlacedPixels() throws {
        let width = 11, height = 9  // not multiples of 8: exercises partial Adam7 passes
        let rgb = (0..<(width * height * 3)).map { ($0 * 31 + 7) % 256 }
        let interlaced = HandPNG.encode(width: width, height: height, colorType: 2, bitDepth: 8, samples: rgb, interlaced: true)
        XCTAssertEqual(try ImageDecoder.decode(interlaced, channels: 3).pixels, rgb.map(UInt8.init))
        let ga = (0..<(width * height * 2)).map { $0 % 2 == 1 ? 200 : ($0 * 3) % 256 }
        let gaInterlaced = HandPNG.encode(width: width, height: height, colorType: 4, bitDepth: 8, samples: ga, interlaced: true)
        XCTAssertEqual(try ImageDecoder.decode(gaInterlaced, channels: 1).pixels, stride(from: 0, to: ga.count, by: 2).map { UInt8(ga[$0]) })
    }

    func testPNGFileOnDiskDecodesByPath() throws {
        let dir = TempDir()
        let img = Pattern.distinct(width: 3, height: 2, channels: 3)
        let path = dir.path + "/x.png"
        try PNGCodec.write(img, to: path)
        XCTAssertEqual(try ImageDecoder.decode(file: path, channels: 3), img)
    }
}
