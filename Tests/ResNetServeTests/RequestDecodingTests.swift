import ResNetData
@testable import ResNetServe
import XCTest

/// Request bodies: multipart/form-data split as RFC 7578 describes, plain image bodies, the
/// top_k parameter, and a clear 400 for each malformed form.
final class RequestDecodingTests: XCTestCase {
    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testBoundaryFromContentType() throws {
        XCTAssertEqual(try MultipartFormData.boundary(contentType: "multipart/form-data; boundary=abc"), "abc")
        XCTAssertEqual(try MultipartFormData.boundary(contentType: "Multipart/Form-Data ; charset=utf-8; Boundary=\"a b\""), "a b")
        XCTAssertNil(try MultipartFormData.boundary(contentType: "image/png"))
        XCTAssertThrowsError(try MultipartFormData.boundary(contentType: "multipart/form-data")) {
            XCTAssertTrue("\($0)".contains("no boundary parameter"))
        }
        XCTAssertThrowsError(try MultipartFormData.boundary(contentType: "multipart/form-data; boundary=" + String(repeating: "x", count: 71)))
    }

    func testPartsWithAndWithoutHeadersAndBinaryBodies() throws {
        let binary: [UInt8] = [0, 13, 10, 45, 45, 255, 13, 10]  // CR LF and "--" inside a part's bytes
        let body = bytes("preamble\r\n--XY\r\nContent-Disposition: form-data; name=\"first\"; filename=\"cat.png\"\r\nContent-Type: image/png\r\n\r\n")
            + binary + bytes("\r\n--XY\r\n\r\nno headers\r\n--XY\r\ncontent-disposition: form-data; name=second\r\n\r\n\r\n--XY--\r\nepilogue")
        let form = try MultipartFormData(body: body, boundary: "XY")
        XCTAssertEqual(form.parts.count, 3)
        XCTAssertEqual(form.parts[0].name, "first")
        XCTAssertEqual(form.parts[0].filename, "cat.png")
        XCTAssertEqual(Array(form.parts[0].body), binary)
        XCTAssertNil(form.parts[1].name)
        XCTAssertEqual(Array(form.parts[1].body), bytes("no headers"))
        XCTAssertEqual(form.parts[2].name, "second")
        XCTAssertEqual(Array(form.parts[2].body), [])
    }

    func testMalformedFormsAreBadRequestsNamingTheProblem() {
        let cases: [(String, String)] = [
            ("no boundary at all", "no boundary line"),
            ("--XY\r\nContent-Disposition: form-data; name=a\r\n\r\nbody without end", "truncated"),
            ("--XY\r\nContent-Disposition: form-data; name=a", "no end of headers"),
            ("--XYjunk", "malformed after a boundary"),
            ("--XY", "malformed after a boundary"),
        ]
        for (body, reason) in cases {
            XCTAssertThrowsError(try MultipartFormData(body: bytes(body), boundary: "XY"), body) { error in
                guard case RequestError.badRequest(let message) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains(reason), "\(body): '\(message)' lacks '\(reason)'")
            }
        }
    }

    func testPredictRequestReadsImagesAndTopK() throws {
        let plain = try PredictRequest(body: [1, 2, 3], contentType: "image/png", topK: nil)
        XCTAssertEqual(plain, PredictRequest.test(images: [.init(label: "image", bytes: [1, 2, 3])], topK: 5, multipart: false))
        let form = try PredictRequest(body: bytes("--b\r\nContent-Disposition: form-data; name=x\r\n\r\nAB\r\n--b\r\n\r\nC\r\n--b--"),
                                      contentType: "multipart/form-data; boundary=b", topK: "2")
        XCTAssertEqual(form.images, [.init(label: "x", bytes: bytes("AB")), .init(label: "part 2", bytes: bytes("C"))])
        XCTAssertEqual(form.topK, 2)
        XCTAssertTrue(form.multipart)
        for bad in ["0", "-1", "x", "1.5", ""] {
            XCTAssertThrowsError(try PredictRequest(body: [1], contentType: nil, topK: bad), bad)
        }
        XCTAssertThrowsError(try PredictRequest(body: [], contentType: nil, topK: nil)) { XCTAssertTrue("\($0)".contains("empty body")) }
        XCTAssertThrowsError(try PredictRequest(body: bytes("--b--"), contentType: "multipart/form-data; boundary=b", topK: nil)) {
            XCTAssertTrue("\($0)".contains("no parts"))
        }
    }
}

/// Image sizes from headers alone, for every format the pipeline decodes, checked against the encoders.
final class ImageDimensionsTests: XCTestCase {
    func testHeadersOfEncodedImagesGiveTheirSize() throws {
        let picture = PixelImage(width: 37, height: 21, channels: 3, pixels: [UInt8](repeating: 90, count: 37 * 21 * 3))
        let gray = PixelImage(width: 5, height: 300, channels: 1, pixels: [UInt8](repeating: 9, count: 5 * 300))
        for (name, bytes, size) in [("PNG", try PNGCodec.encode(picture), (37, 21)), ("JPEG", try JPEGCodec.encode(picture), (37, 21)),
                                    ("PPM", try PNMCodec.encode(picture), (37, 21)), ("PGM", try PNMCodec.encode(gray), (5, 300)),
                                    ("JPEG gray", try JPEGCodec.encode(gray), (5, 300))] {
            let read = ImageDimensions.read(bytes)
            XCTAssertEqual(read?.width, size.0, name)
            XCTAssertEqual(read?.height, size.1, name)
        }
        let commented = ImageDimensions.read(Array("P6\n# made by hand\n 640\t480 # size\n255\n".utf8))
        XCTAssertEqual(commented?.width, 640)
        XCTAssertEqual(commented?.height, 480)
    }

    func testHeadersItCannotReadGiveNilNotACrash() {
        for bytes: [UInt8] in [[], [0xFF, 0xD8], [0xFF, 0xD8, 0xFF, 0xE0, 0, 0], [0xFF, 0xD8, 0xFF, 0xDA, 0, 2], Array("P6 x".utf8), Array("P5\n12".utf8),
                               [0x89, 0x50, 0x4E, 0x47, 13, 10, 26, 10, 0, 0, 0, 13], Array("hello".utf8)] {
            XCTAssertNil(ImageDimensions.read(bytes), "\(bytes)")
        }
        XCTAssertEqual(ImageDimensions.pixels((Int.max, 2)), .max, "an overflowing product counts as too many")
        XCTAssertEqual(ImageDimensions.read(Array("P5 99999999999999999999 2".utf8))?.width, Int(Int32.max))
    }
}

extension PredictRequest {
    static func test(images: [Image], topK: Int, multipart: Bool) -> PredictRequest {
        var r = try! PredictRequest(body: [0], contentType: nil, topK: nil)
        r.images = images; r.topK = topK; r.multipart = multipart
        return r
    }
}
