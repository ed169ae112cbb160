import Foundation
import XCTest
@testable import ResNetData

/// A fresh temporary folder per test, removed afterwards.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "resnetdata-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Creates parent folders and writes `bytes` at `relative`; returns the full path.
    @discardableResult
    func write(_ relative: String, _ bytes: [UInt8]) -> String {
        let full = path + "/" + relative
        try! FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! FileIO.write(bytes, to: full)
        return full
    }

    func mkdir(_ relative: String) {
        try! FileManager.default.createDirectory(atPath: path + "/" + relative, withIntermediateDirectories: true)
    }
}

/// Images of known content.
enum Pattern {
    /// A deterministic, smooth-ish pattern so JPEG round-trips stay within a small tolerance.
    static func smooth(width: Int, height: Int, channels: Int) -> PixelImage {
        var img = PixelImage(width: width, height: height, channels: channels)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels {
                    img[y, x, c] = UInt8((40 + x * 160 / max(1, width - 1) + y * 40 / max(1, height - 1) + c * 17) % 256)
                }
            }
        }
        return img
    }

    /// Every value different (exact formats only).
    static func distinct(width: Int, height: Int, channels: Int, seed: Int = 0) -> PixelImage {
        var img = PixelImage(width: width, height: height, channels: channels)
        for i in 0..<img.pixels.count { img.pixels[i] = UInt8(truncatingIfNeeded: i * 37 + seed * 11 + 5) }
        return img
    }

    static func maxAbsDiff(_ a: [UInt8], _ b: [UInt8]) -> Int {
        precondition(a.count == b.count)
        return zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }
}

/// A hand-written PNG encoder for what libpng's simplified writer cannot produce
/// (palette, 16-bit, gray+alpha with tRNS, Adam7 interlace), filter type 0 throughout.
enum HandPNG {
    /// `samples` are per-channel values in row-major order (palette: one index per pixel).
    static func encode(width: Int, height: Int, colorType: UInt8, bitDepth: UInt8, samples: [Int],
                       palette: [[UInt8]] = [], transparency: [UInt8] = [], interlaced: Bool = false) -> [UInt8] {
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][Int(colorType)]!
        precondition(samples.count == width * height * channels)
        func row(_ y: Int, _ xs: [Int]) -> [UInt8] {
            var out: [UInt8] = [0]
            for x in xs {
                for c in 0..<channels {
                    let v = samples[(y * width + x) * channels + c]
                    if bitDepth == 16 { out += [UInt8(v >> 8), UInt8(v & 255)] } else { out.append(UInt8(v)) }
                }
            }
            return out
        }
        var raw: [UInt8] = []
        if interlaced {
            let passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            for (x0, y0, dx, dy) in passes {
                let xs = Array(stride(from: x0, to: width, by: dx))
                if xs.isEmpty { continue }
                for y in stride(from: y0, to: height, by: dy) { raw += row(y, xs) }
            }
        } else {
            for y in 0..<height { raw += row(y, Array(0..<width)) }
        }
        func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return be32(data.count) + body + be32(Int(Gzip.crc32(body)))
        }
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += chunk("IHDR", be32(width) + be32(height) + [bitDepth, colorType, 0, 0, interlaced ? 1 : 0])
        if !palette.isEmpty { png += chunk("PLTE", palette.flatMap { $0 }) }
        if !transparency.isEmpty { png += chunk("tRNS", transparency) }
        png += chunk("IDAT", Gzip.compress(raw, gzip: false))
        png += chunk("IEND", [])
        return png
    }
}

extension XCTestCase {
    /// Asserts `body` throws a DataError whose description contains every fragment.
    func assertDataError<T>(_ body: @autoclosure () throws -> T, contains fragments: [String],
                            file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("expected a DataError containing \(fragments)", file: file, line: line)
        } catch let error as DataError {
            for fragment in fragments {
                XCTAssertTrue(error.description.contains(fragment), "'\(error.description)' lacks '\(fragment)'", file: file, line: line)
            }
        } catch {
            XCTFail("expected DataError, got \(error)", file: file, line: line)
        }
    }
}
