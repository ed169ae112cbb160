import Foundation
import ResNetEngine
@testable import ResNetTraining
import XCTest

/// The safetensors reader and writer: round trips, the exact byte format, hand-written files of
/// other dtypes, every rejection rule, and a seeded fuzz of random and damaged inputs.
final class SafeTensorsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("safetensors-tests-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Helpers

    /// A file image: u64 LE header length, the header bytes as given (no padding added), the data.
    private func image(_ header: String, _ data: [UInt8] = [], length: UInt64? = nil) -> Data {
        let h = Array(header.utf8)
        let n = length ?? UInt64(h.count)
        var bytes: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) }
        bytes += h
        bytes += data
        return Data(bytes)
    }

    private func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
    }

    private func f32(_ values: [Float]) -> [UInt8] { values.flatMap { le($0.bitPattern) } }

    /// Asserts that parsing throws a SafeTensorsError matching `check`, and that its description
    /// names the source.
    private func assertRejects(
        _ data: Data, file: StaticString = #filePath, line: UInt = #line,
        _ check: (SafeTensorsError) -> Bool
    ) {
        do {
            let parsed = try SafeTensors.parse(data, source: "bad.safetensors")
            XCTFail("accepted a malformed file with \(parsed.names)", file: file, line: line)
        } catch let error as SafeTensorsError {
            XCTAssertTrue(check(error), "wrong error: \(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains("bad.safetensors"), "\(error)", file: file, line: line)
        } catch {
            XCTFail("not a SafeTensorsError: \(error)", file: file, line: line)
        }
    }

    private func bits(_ t: Tensor) -> [UInt32] { t.toArray().map(\.bitPattern) }

    // MARK: Round trip and exact format

    func testRoundTripWithInt64ScalarAndMetadata() throws {
        let tensors: [String: Tensor] = [
            "conv1.weight": Tensor.randomNormal([4, 3, 3, 3], seed: 1),
            "bn1.weight": Tensor(shape: [4], values: [1, -0.5, .infinity, .leastNonzeroMagnitude]),
            "bn1.num_batches_tracked": Tensor(scalar: 1234),
            "fc.bias": Tensor(shape: [3], values: [0.1, -0.2, 0.3]),
            "empty": Tensor(zeros: [0, 5]),
            "layer1.0.bn1.num_batches_tracked": Tensor(scalar: 0),
        ]
        let metadata = ["format": "pt", "epoch": "7", "note": "quote \" backslash \\ newline \n é"]
        let url = directory.appendingPathComponent("model.safetensors")
        try SafeTensors.write(tensors, metadata: metadata, to: url)

        let file = try SafeTensors.read(url)
        XCTAssertEqual(file.names, tensors.keys.sorted())
        XCTAssertEqual(file.metadata, metadata)
        XCTAssertEqual(file.entries["bn1.num_batches_tracked"]?.dtype, .i64)
        XCTAssertEqual(file.entries["bn1.num_batches_tracked"]?.shape, [])
        XCTAssertEqual(file.entries["layer1.0.bn1.num_batches_tracked"]?.dtype, .i64)
        XCTAssertEqual(file.entries["conv1.weight"]?.dtype, .f32)
        XCTAssertEqual(file.entries["empty"]?.shape, [0, 5])
        for (name, t) in tensors {
            let back = try file.tensor(name)
            XCTAssertEqual(back.shape, t.shape, name)
            XCTAssertEqual(bits(back), bits(t), name)
        }
        XCTAssertEqual(try file.tensor("bn1.num_batches_tracked").scalar, 1234)
        XCTAssertEqual(try file.tensors().count, tensors.count)

        // The data starts 8-aligned, and the header is the reference writer's order.
        let raw = try Data(contentsOf: url)
        let n = raw.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(n % 8, 0)
        let header = String(decoding: raw[8..<(8 + n)], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{\"__metadata__\":{\"epoch\":\"7\",\"format\":\"pt\","), header)
        XCTAssertEqual(raw.count, 8 + n + 4 * (108 + 4 + 3) + 8 * 2)
    }

    /// The expected bytes here and in the next test are exactly what the reference implementation
    /// (Python `safetensors` 0.8.0, `safetensors.numpy.save`) produces for the same input.
    func testHeaderIsByteExact() throws {
        let url = directory.appendingPathComponent("a.safetensors")
        try SafeTensors.write(["a": Tensor(shape: [2], values: [1, 2])], to: url)
        var expected: [UInt8] = [56, 0, 0, 0, 0, 0, 0, 0]
        expected += Array(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.utf8) // 54 bytes
        expected += [0x20, 0x20] // padded to 56
        expected += [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40] // 1.0f, 2.0f little-endian
        XCTAssertEqual(Array(try Data(contentsOf: url)), expected)
    }

    func testHeaderWithMetadataAndInt64IsByteExact() throws {
        let url = directory.appendingPathComponent("n.safetensors")
        try SafeTensors.write(
            ["n": Tensor(scalar: 258)], metadata: ["format": "pt"], to: url, int64Keys: { $0 == "n" })
        var expected: [UInt8] = [88, 0, 0, 0, 0, 0, 0, 0]
        expected += Array(
            #"{"__metadata__":{"format":"pt"},"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}"#.utf8) // 84
        expected += [0x20, 0x20, 0x20, 0x20]
        expected += [0x02, 0x01, 0, 0, 0, 0, 0, 0] // 258 as int64 little-endian
        XCTAssertEqual(Array(try Data(contentsOf: url)), expected)
    }

    func testReadsOtherDTypesWrittenByHand() throws {
        let f16: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x7C00, 0x8000, 0x0400]
        let bf16: [UInt16] = [0x3F80, 0xC060, 0x4049]
        let i64: [Int64] = [-5, 1 << 40, 0]
        let f64: [Double] = [0.25, -1e10]
        let i32: [Int32] = [-7, 100_000]
        let u8: [UInt8] = [0, 255, 7]
        let i8: [Int8] = [-128, 127]
        let bools: [UInt8] = [1, 0, 1]
        var data: [UInt8] = []
        var header: [String] = []
        func add(_ name: String, _ dtype: String, _ shape: [Int], _ bytes: [UInt8]) {
            header.append(#""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(data.count),\#(data.count + bytes.count)]}"#)
            data += bytes
        }
        add("half", "F16", [2, 4], f16.flatMap { le($0) })
        add("brain", "BF16", [3], bf16.flatMap { le($0) })
        add("long", "I64", [3], i64.flatMap { le($0) })
        add("double", "F64", [2, 1], f64.flatMap { le($0.bitPattern) })
        add("int", "I32", [2], i32.flatMap { le($0) })
        add("byte", "U8", [3], u8)
        add("sbyte", "I8", [2], i8.map { UInt8(bitPattern: $0) })
        add("mask", "BOOL", [3], bools)
        let file = try SafeTensors.parse(image("{" + header.joined(separator: ",") + "}", data))

        let half = try file.tensor("half")
        XCTAssertEqual(half.shape, [2, 4])
        XCTAssertEqual(Array(half.toArray().prefix(4)), [1, -2, 0.5, 65504])
        XCTAssertEqual(half.toArray()[4], Float(sign: .plus, exponent: -24, significand: 1)) // smallest subnormal
        XCTAssertEqual(half.toArray()[5], .infinity)
        XCTAssertEqual(half.toArray()[6].bitPattern, (-0.0 as Float).bitPattern)
        XCTAssertEqual(half.toArray()[7], Float(sign: .plus, exponent: -14, significand: 1)) // smallest normal
        XCTAssertEqual(try file.tensor("brain").toArray(), [1, -3.5, 3.140625])
        XCTAssertEqual(try file.tensor("long").toArray(), [-5, 1_099_511_627_776, 0])
        XCTAssertEqual(try file.tensor("double").toArray(), [0.25, -1e10])
        XCTAssertEqual(try file.tensor("double").shape, [2, 1])
        XCTAssertEqual(try file.tensor("int").toArray(), [-7, 100_000])
        XCTAssertEqual(try file.tensor("byte").toArray(), [0, 255, 7])
        XCTAssertEqual(try file.tensor("sbyte").toArray(), [-128, 127])
        XCTAssertEqual(try file.tensor("mask").toArray(), [1, 0, 1])
        XCTAssertEqual(file.entries["half"]?.dtype, .f16)
        XCTAssertEqual(file.entries["brain"]?.dataOffsets, 16..<22)
        XCTAssertThrowsError(try file.tensor("missing")) { error in
            guard case .noSuchTensor(_, "missing")? = error as? SafeTensorsError else { return XCTFail("\(error)") }
        }
    }

    func testEmptyFileAndUnpaddedHeaderAreAccepted() throws {
        let empty = try SafeTensors.parse(image("{}"))
        XCTAssertTrue(empty.names.isEmpty)
        let spaced = try SafeTensors.parse(image(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   "#, f32([3])))
        XCTAssertEqual(try spaced.tensor("x").toArray(), [3])
        // Zero-size tensors may share an offset; unknown extra fields in an entry are ignored
        // (both as in the reference implementation).
        let zeros = try SafeTensors.parse(image(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"I64","shape":[2,0],"data_offsets":[0,0],"extra":1}}"#))
        XCTAssertEqual(zeros.names, ["a", "b"])
        XCTAssertEqual(try zeros.tensor("b").shape, [2, 0])
        // An empty dict written by us reads back too.
        let url = directory.appendingPathComponent("empty.safetensors")
        try SafeTensors.write([:], to: url)
        XCTAssertEqual(Array(try Data(contentsOf: url)), [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
        XCTAssertTrue(try SafeTensors.read(url).names.isEmpty)
    }

    // MARK: Rejections

    func testRejectsShortFileAndBadHeaderLengths() {
        assertRejects(Data([1, 2, 3])) { if case .fileTooShort(_, 3) = $0 { return true }; return false }
        assertRejects(Data()) { if case .fileTooShort(_, 0) = $0 { return true }; return false }
        assertRejects(image("{}", length: 100_000_001)) {
            if case .headerTooLarge(_, 100_000_001) = $0 { return true }; return false
        }
        assertRejects(image("{}", length: UInt64.max)) { if case .headerTooLarge = $0 { return true }; return false }
        assertRejects(image("{}", length: 3)) { if case .headerBeyondFile(_, 3, 10) = $0 { return true }; return false }
    }

    func testRejectsNonJSONHeaders() {
        func invalidHeader(_ e: SafeTensorsError) -> Bool { if case .invalidHeader = e { return true }; return false }
        assertRejects(image("not json"), invalidHeader)
        assertRejects(image(""), invalidHeader)
        assertRejects(image(" {}"), invalidHeader) // must start with '{'
        assertRejects(image("[1, 2]"), invalidHeader)
        assertRejects(image("{\"a\":"), invalidHeader)
        assertRejects(image("{} trailing"), invalidHeader)
        var bad = Array(image("{\"\u{e9}\":1}")) // corrupt the UTF-8 of é
        bad[11] = 0xFF
        assertRejects(Data(bad), invalidHeader)
    }

    func testRejectsBadEntries() {
        func entry(_ fields: String) -> Data { image("{\"w\":{\(fields)}}", f32([1, 2])) }
        assertRejects(entry(#""shape":[2],"data_offsets":[0,8]"#)) {
            if case .missingField(_, "w", "dtype") = $0 { return true }; return false
        }
        assertRejects(entry(#""dtype":"F32","data_offsets":[0,8]"#)) {
            if case .missingField(_, "w", "shape") = $0 { return true }; return false
        }
        assertRejects(entry(#""dtype":"F32","shape":[2]"#)) {
            if case .missingField(_, "w", "data_offsets") = $0 { return true }; return false
        }
        assertRejects(entry(#""dtype":"F128","shape":[2],"data_offsets":[0,8]"#)) {
            if case .unknownDType(_, "w", "F128") = $0 { return true }; return false
        }
        assertRejects(entry(#""dtype":"f32","shape":[2],"data_offsets":[0,8]"#)) {
            if case .unknownDType(_, "w", "f32") = $0 { return true }; return false
        }
        assertRejects(entry(#""dtype":"F32","shape":[-2],"data_offsets":[0,8]"#)) {
            if case .negativeDimension(_, "w", [-2]) = $0 { return true }; return false
        }
        assertRejects(entry(#""dtype":"F32","shape":[2],"data_offsets":[8,0]"#)) {
            if case .invalidOffsets(_, "w", 8, 0) = $0 { return true }; return false
        }
        assertRejects(entry(#""dtype":"F32","shape":[2],"data_offsets":[-8,0]"#)) {
            if case .invalidOffsets(_, "w", -8, 0) = $0 { return true }; return false
        }
        func wrongType(_ field: String) -> (SafeTensorsError) -> Bool {
            { if case .wrongFieldType(_, "w", field, _) = $0 { return true }; return false }
        }
        assertRejects(entry(#""dtype":7,"shape":[2],"data_offsets":[0,8]"#), wrongType("dtype"))
        assertRejects(entry(#""dtype":"F32","shape":2,"data_offsets":[0,8]"#), wrongType("shape"))
        assertRejects(entry(#""dtype":"F32","shape":[2.5],"data_offsets":[0,8]"#), wrongType("shape"))
        assertRejects(entry(#""dtype":"F32","shape":[2.0],"data_offsets":[0,8]"#), wrongType("shape"))
        assertRejects(entry(#""dtype":"F32","shape":[true],"data_offsets":[0,8]"#), wrongType("shape"))
        assertRejects(entry(#""dtype":"F32","shape":["2"],"data_offsets":[0,8]"#), wrongType("shape"))
        assertRejects(entry(#""dtype":"F32","shape":[2],"data_offsets":[0,8,16]"#), wrongType("data_offsets"))
        assertRejects(entry(#""dtype":"F32","shape":[2],"data_offsets":[0,1e1]"#), wrongType("data_offsets"))
        assertRejects(entry(#""dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]"#), wrongType("data_offsets"))
        assertRejects(image(#"{"w":[1,2]}"#)) { if case .wrongFieldType(_, "w", _, _) = $0 { return true }; return false }
        assertRejects(image(#"{"__metadata__":{"a":1}}"#)) { if case .invalidMetadata = $0 { return true }; return false }
        assertRejects(image(#"{"__metadata__":[]}"#)) { if case .invalidMetadata = $0 { return true }; return false }
    }

    func testRejectsWrongSizes() {
        assertRejects(image(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, f32([1, 2]))) {
            if case .sizeMismatch(_, "w", 12, 8) = $0 { return true }; return false
        }
        assertRejects(image(#"{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}"#, f32([1, 2]))) {
            if case .sizeMismatch(_, "w", 4, 8) = $0 { return true }; return false
        }
        // A product of dims that overflows Int.
        assertRejects(image(#"{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, f32([1, 2]))) {
            if case .sizeMismatch(_, "w", nil, 8) = $0 { return true }; return false
        }
    }

    func testRejectsOverlapsGapsTrailingAndTruncatedData() {
        let two = f32([1, 2, 3, 4])
        assertRejects(image(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, f32([1, 2, 3]))) {
            if case .overlappingTensors(_, "b", "a", 4, 8) = $0 { return true }; return false
        }
        assertRejects(image(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, f32([1, 2]))) {
            if case .overlappingTensors(_, "b", "a", 0, 8) = $0 { return true }; return false
        }
        assertRejects(image(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, two)) {
            if case .gapBetweenTensors(_, "b", "a"?, 8, 4) = $0 { return true }; return false
        }
        assertRejects(image(#"{"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, two)) {
            if case .gapBetweenTensors(_, "b", nil, 8, 0) = $0 { return true }; return false
        }
        assertRejects(image(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, two)) {
            if case .trailingBytes(_, 8, 16) = $0 { return true }; return false
        }
        assertRejects(image("{}", [0])) { if case .trailingBytes(_, 0, 1) = $0 { return true }; return false }
        assertRejects(image(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, f32([1, 2, 3]))) {
            if case .truncatedData(_, "b", 16, 12) = $0 { return true }; return false
        }
    }

    func testErrorsNameFileAndKey() throws {
        let url = directory.appendingPathComponent("broken.safetensors")
        try image(#"{"layer1.0.conv1.weight":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, f32([1, 2])).write(to: url)
        XCTAssertThrowsError(try SafeTensors.read(url)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(url.path), text)
            XCTAssertTrue(text.contains("layer1.0.conv1.weight"), text)
        }
    }

    func testWriterRejectsValuesThatAreNotInt64AndReservedNames() throws {
        let url = directory.appendingPathComponent("w.safetensors")
        try SafeTensors.write(["a": Tensor(shape: [1], values: [1])], to: url)
        let good = try Data(contentsOf: url)
        for bad: Float in [.nan, .infinity, 1.5, 1e19] {
            XCTAssertThrowsError(try SafeTensors.write(["bn.num_batches_tracked": Tensor(scalar: bad)], to: url)) { error in
                guard case .unrepresentableValue(_, "bn.num_batches_tracked", _, "I64")? = error as? SafeTensorsError else {
                    return XCTFail("\(error)")
                }
            }
        }
        XCTAssertThrowsError(try SafeTensors.write(["__metadata__": Tensor(scalar: 1)], to: url)) { error in
            guard case .reservedName? = error as? SafeTensorsError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try Data(contentsOf: url), good, "a rejected write leaves the old file")
    }

    // MARK: Fuzz

    func testFuzzedInputsNeverCrash() throws {
        var rng = SplitMix(seed: 0x5AFE_7E45)
        // A valid file to damage.
        let url = directory.appendingPathComponent("valid.safetensors")
        try SafeTensors.write(
            ["a": Tensor.randomNormal([3, 2], seed: 3), "b.num_batches_tracked": Tensor(scalar: 9),
             "c": Tensor(shape: [1], values: [5])],
            metadata: ["k": "v"], to: url)
        let valid = Array(try Data(contentsOf: url))
        XCTAssertNoThrow(try SafeTensors.parse(Data(valid)))

        // Every truncation of a valid file is rejected.
        for length in 0..<valid.count {
            XCTAssertThrowsError(try SafeTensors.parse(Data(valid.prefix(length))), "prefix \(length)")
        }
        // Pure random bytes, with and without a plausible header length, are rejected.
        for _ in 0..<300 {
            let count = Int(rng.next() % 200)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if count >= 8 && rng.next() % 2 == 0 {
                let n = UInt64(rng.next() % UInt64(count - 7))
                for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i))) }
                if count > 8 && rng.next() % 2 == 0 { bytes[8] = UInt8(ascii: "{") }
            }
            XCTAssertThrowsError(try SafeTensors.parse(Data(bytes)))
        }
        // Random byte flips, insertions and deletions of the valid file: anything accepted must
        // still read every tensor without trouble.
        var accepted = 0
        for _ in 0..<500 {
            var bytes = valid
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let i = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                default: bytes.remove(at: i)
                }
            }
            if let file = try? SafeTensors.parse(Data(bytes)) {
                accepted += 1
                for name in file.names {
                    let t = try file.tensor(name)
                    XCTAssertEqual(t.shape, file.entries[name]?.shape)
                }
            }
        }
        XCTAssertLessThan(accepted, 500, "damage in the header must be caught")
    }
}

/// A small seeded generator for the fuzz test.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

