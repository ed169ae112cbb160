/// An image's width and height read from its header alone, so a request claiming a huge image is
/// refused before the decoder allocates for it (a 0.7 MB PNG can inflate to 16000x16000, 768 MB).
/// Knows the formats the data pipeline decodes; nil where the header is not found, and the
/// decoder then gives its own reason.
enum ImageDimensions {
    static func read(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        if bytes.count >= 24, bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]), Array(bytes[12..<16]) == Array("IHDR".utf8) {
            return (bigEndian(bytes, 16, 4), bigEndian(bytes, 20, 4))
        }
        if bytes.starts(with: [0xFF, 0xD8]) { return jpeg(bytes) }
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "6") {
            return pnm(bytes)
        }
        return nil
    }

    /// width x height, `Int.max` where that overflows.
    static func pixels(_ size: (width: Int, height: Int)) -> Int {
        let (product, overflow) = size.width.multipliedReportingOverflow(by: size.height)
        return overflow ? .max : product
    }

    private static func bigEndian(_ bytes: [UInt8], _ offset: Int, _ count: Int) -> Int {
        bytes[offset..<offset + count].reduce(0) { $0 << 8 | Int($1) }
    }

    /// The first start-of-frame segment (SOF0-SOF15 but DHT, JPG and DAC) gives height then width.
    private static func jpeg(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        var i = 2
        while i + 3 < bytes.count {
            guard bytes[i] == 0xFF else { return nil }
            let marker = bytes[i + 1]
            if marker == 0xFF { i += 1; continue }  // fill byte
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { i += 2; continue }
            if marker == 0xDA || marker == 0xD9 { return nil }  // scan data or end before any frame header
            let length = bigEndian(bytes, i + 2, 2)
            if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
                guard i + 9 <= bytes.count else { return nil }
                return (bigEndian(bytes, i + 7, 2), bigEndian(bytes, i + 5, 2))
            }
            guard length >= 2 else { return nil }
            i += 2 + length
        }
        return nil
    }

    /// Binary PPM/PGM: magic, then width and height as decimal tokens, with `#` comments between.
    private static func pnm(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        var i = 2
        var numbers: [Int] = []
        while numbers.count < 2 && i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "#") {
                while i < bytes.count && bytes[i] != 10 && bytes[i] != 13 { i += 1 }
            } else if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) {
                var value = 0
                while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) {
                    value = min(value * 10 + Int(bytes[i] - UInt8(ascii: "0")), Int(Int32.max))
                    i += 1
                }
                numbers.append(value)
            } else if c == 32 || (9...13).contains(c) {
                i += 1
            } else {
                return nil
            }
        }
        return numbers.count == 2 ? (numbers[0], numbers[1]) : nil
    }
}
