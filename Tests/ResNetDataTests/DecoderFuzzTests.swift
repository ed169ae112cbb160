import XCTest
@testable import ResNetData

/// Truncated, bit-flipped and random inputs must give a DataError naming the source, never a
/// crash; a file cut well before its end must never decode silently.
final class DecoderFuzzTests: XCTestCase {
    private func validFiles() throws -> [(String, [UInt8])] {
        let rgb = Pattern.smooth(width: 16, height: 12, channels: 3)
        return [
            ("jpeg", try JPEGCodec.encode(rgb, quality: 90)),
            ("progressive", try JPEGCodec.encode(rgb, quality: 90, progressive: true)),
            ("png", try PNGCodec.encode(rgb)),
            ("interlaced", HandPNG.encode(width: 9, height: 7, colorType: 2, bitDepth: 8,
                                          samples: (0..<(9 * 7 * 3)).map { $0 % 256 }, interlaced: true)),
            ("ppm", try PNMCodec.encode(rgb)),
        ]
    }

    func testEveryTruncationFailsCleanlyOrDecodesFullSize() throws {
        for (name, bytes) in try validFiles() {
            for length in 0..<bytes.count {
                let source = "\(name)-cut-\(length)"
                do {
                    let img = try ImageDecoder.decode(Array(bytes.prefix(length)), channels: 3, source: source)
                    XCTAssertGreaterThan(length, bytes.count / 2, "\(source) decoded although half the file is missing")
                    XCTAssertEqual(img.pixels.count, img.width * img.height * 3)
                } catch let error as DataError {
                    XCTAssertTrue(error.description.contains(source), "error does not name the file: \(error)")
                }
            }
        }
    }

    func testTruncatedJPEGNamesTheDecodersReason() throws {
        // A noisy 64x64 image, so the cut lands in the entropy-coded scan rather than the headers.
        let bytes = try JPEGCodec.encode(Pattern.distinct(width: 64, height: 64, channels: 3), quality: 90)
        assertDataError(try ImageDecoder.decode(Array(bytes.prefix(bytes.count * 9 / 10)), channels: 3, source: "cut.jpg"),
                        contains: ["cut.jpg", "JPEG", "Premature end"])
        let png = try PNGCodec.encode(Pattern.smooth(width: 32, height: 32, channels: 3))
        assertDataError(try ImageDecoder.decode(Array(png.prefix(png.count / 2)), channels: 3, source: "cut.png"),
                        contains: ["cut.png", "PNG"])
        let ppm = try PNMCodec.encode(Pattern.smooth(width: 4, height: 4, channels: 3))
        assertDataError(try ImageDecoder.decode(Array(ppm.dropLast()), channels: 3, source: "cut.ppm"),
                        contains: ["cut.ppm", "truncated", "needs 48 bytes"])
    }

    func testBitFlipsAndRandomBytesNeverCrash() throws {
        var rng = SampleRandom(seed: 42)
        for (name, bytes) in try validFiles() {
            for trial in 0..<150 {
                var mutated = bytes
                for _ in 0..<(1 + rng.below(4)) {
                    let at = rng.below(mutated.count)
                    mutated[at] = UInt8(truncatingIfNeeded: rng.next())
                }
                decodeExpectingNoCrash(mutated, source: "\(name)-flip-\(trial)")
            }
        }
        let magics: [[UInt8]] = [[0xFF, 0xD8, 0xFF], [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], Array("P6".utf8), Array("P5".utf8), []]
        for trial in 0..<300 {
            let magic = magics[trial % magics.count]
            let noise = (0..<rng.below(300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            decodeExpectingNoCrash(magic + noise, source: "random-\(trial)")
        }
    }

    func testHeadersClaimingHugeImagesAreRejectedBeforeAllocating() {
        assertDataError(try ImageDecoder.decode(Array("P6 100000 100000 255\n".utf8) + [1, 2, 3], channels: 3, source: "huge.ppm"),
                        contains: ["huge.ppm", "larger than"])
        assertDataError(try ImageDecoder.decode(Array("P6 0 5 255\n".utf8), channels: 3, source: "zero.ppm"),
                        contains: ["zero.ppm", "0x5"])
    }

    private func decodeExpectingNoCrash(_ bytes: [UInt8], source: String) {
        do {
            let img = try ImageDecoder.decode(bytes, channels: 3, source: source)
            XCTAssertEqual(img.pixels.count, img.width * img.height * 3)
        } catch let error as DataError {
            XCTAssertTrue(error.description.contains(source), "error does not name the file: \(error)")
        } catch {
            XCTFail("non-DataError \(error) for \(source)")
        }
    }
}
