/// A multipart/form-data body split into its parts (RFC 7578): enough to take several image files
/// in one request. Every malformed body is a `RequestError.badRequest` naming what is wrong.
struct MultipartFormData {
    struct Part {
        /// The `name` parameter of the part's Content-Disposition.
        var name: String?
        /// The `filename` parameter of the part's Content-Disposition.
        var filename: String?
        var body: ArraySlice<UInt8>
    }

    var parts: [Part]

    /// Most parts one body may hold: each becomes one image in the queue.
    static let maxParts = 1024

    /// The `boundary` parameter of a `multipart/form-data` Content-Type, or nil for other types.
    static func boundary(contentType: String) throws -> String? {
        let fields = contentType.split(separator: ";").map { $0.trimmingWhitespace() }
        guard let type = fields.first, type.lowercased() == "multipart/form-data" else { return nil }
        for field in fields.dropFirst() {
            guard let eq = field.firstIndex(of: "=") else { continue }
            guard field[..<eq].trimmingWhitespace().lowercased() == "boundary" else { continue }
            var value = field[field.index(after: eq)...].trimmingWhitespace()
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            guard (1...70).contains(value.utf8.count) else {
                throw RequestError.badRequest("multipart boundary must be 1-70 characters (got \(value.utf8.count))")
            }
            return value
        }
        throw RequestError.badRequest("multipart/form-data Content-Type has no boundary parameter")
    }

    init(body: [UInt8], boundary: String) throws {
        let delimiter = Array("--\(boundary)".utf8)
        // The first delimiter may start the body; later ones follow CRLF.
        let separator = Array("\r\n--\(boundary)".utf8)
        guard var position = Self.find(delimiter, in: body, from: 0) else {
            throw RequestError.badRequest("multipart body has no boundary line --\(boundary)")
        }
        position += delimiter.count
        parts = []
        while true {
            // After a delimiter: "--" closes the body, otherwise CRLF starts a part.
            if body[position...].starts(with: [UInt8(ascii: "-"), UInt8(ascii: "-")]) { break }
            while position < body.count, body[position] == UInt8(ascii: " ") || body[position] == UInt8(ascii: "\t") { position += 1 }
            guard body[position...].starts(with: [13, 10]) else {
                throw RequestError.badRequest("multipart body is truncated or malformed after a boundary line (part \(parts.count + 1))")
            }
            position += 2
            // Headers end at a blank line; a part may have none (CRLF right away).
            let headers: String, contentStart: Int
            if body[position...].starts(with: [13, 10]) {
                headers = ""
                contentStart = position + 2
            } else if let headerEnd = Self.find([13, 10, 13, 10], in: body, from: position) {
                headers = String(decoding: body[position..<headerEnd], as: UTF8.self)
                contentStart = headerEnd + 4
            } else {
                throw RequestError.badRequest("multipart part \(parts.count + 1) has no end of headers (blank line)")
            }
            guard let end = Self.find(separator, in: body, from: contentStart) else {
                throw RequestError.badRequest("multipart part \(parts.count + 1) is truncated: no closing boundary --\(boundary)")
            }
            guard parts.count < Self.maxParts else {
                throw RequestError.badRequest("multipart body has more than \(Self.maxParts) parts")
            }
            var part = Part(name: nil, filename: nil, body: body[contentStart..<end])
            for line in headers.split(separator: "\r\n") {
                guard let colon = line.firstIndex(of: ":"),
                      line[..<colon].trimmingWhitespace().lowercased() == "content-disposition" else { continue }
                let params = Self.parameters(String(line[line.index(after: colon)...]))
                part.name = params["name"]
                part.filename = params["filename"]
            }
            parts.append(part)
            position = end + separator.count
        }
    }

    /// `key=value` and `key="value"` parameters of a header value, keys lower-cased.
    static func parameters(_ value: String) -> [String: String] {
        var result: [String: String] = [:]
        for field in value.split(separator: ";").dropFirst() {
            guard let eq = field.firstIndex(of: "=") else { continue }
            let key = field[..<eq].trimmingWhitespace().lowercased()
            var v = field[field.index(after: eq)...].trimmingWhitespace()
            if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
            result[key] = v
        }
        return result
    }

    /// The first index at or after `start` where `needle` occurs in `haystack`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, start >= 0, haystack.count - start >= needle.count else { return nil }
        let first = needle[0]
        var i = start
        let last = haystack.count - needle.count
        return haystack.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { n in
                while i <= last {
                    if h[i] == first {
                        var j = 1
                        while j < n.count && h[i + j] == n[j] { j += 1 }
                        if j == n.count { return i }
                    }
                    i += 1
                }
                return nil
            }
        }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
