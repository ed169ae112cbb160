import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking HTTP/1.1 client on a raw socket: it sends exactly the bytes a test gives (wrong
/// lengths, truncated bodies, chunked bodies) and reads until the server closes, so tests see
/// what a hostile or careless client would.
struct HTTPTestClient {
    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    enum Failure: Error { case connect(String), noAnswer(String) }

    let port: Int

    /// Sends `raw` as the whole request (after connecting) and returns the answer.
    func send(raw: [UInt8], closeWriteAfter: Bool = false) throws -> Answer {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.connect("socket: \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure.connect("connect to port \(port): errno \(errno)") }
        var sent = 0
        while sent < raw.count {
            let n = raw[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // the server may answer (413) and close before reading everything
            sent += n
        }
        if closeWriteAfter { shutdown(fd, Int32(SHUT_WR)) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
            if let answer = Self.parse(received), answer.complete { return answer.answer }
        }
        guard let answer = Self.parse(received) else { throw Failure.noAnswer("no HTTP answer (\(received.count) bytes)") }
        return answer.answer
    }

    /// A request with `body` and a correct Content-Length (unless `headers` sets one).
    func request(_ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8] = []) throws -> Answer {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        var fields = headers
        if fields["Content-Length"] == nil && fields["Transfer-Encoding"] == nil { fields["Content-Length"] = String(body.count) }
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        return try send(raw: Array((head + "\r\n").utf8) + body)
    }

    func get(_ path: String) throws -> Answer { try request("GET", path) }

    func post(_ path: String, image: [UInt8], contentType: String = "application/octet-stream") throws -> Answer {
        try request("POST", path, headers: ["Content-Type": contentType], body: image)
    }

    /// multipart/form-data with one part per (filename, bytes).
    func post(_ path: String, parts: [(String, [UInt8])]) throws -> Answer {
        let boundary = "----resnet-test-boundary-7MA4YWxkTrZu0gW"
        var body: [UInt8] = []
        for (name, bytes) in parts {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"\(name)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
            body += bytes + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        return try request("POST", path, headers: ["Content-Type": "multipart/form-data; boundary=\(boundary)"], body: body)
    }

    /// The answer in `bytes` and whether its body is all there (Content-Length or chunked end).
    static func parse(_ bytes: [UInt8]) -> (answer: Answer, complete: Bool)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0...max(0, bytes.count - 4)).first(where: { bytes.count >= 4 && Array(bytes[$0..<$0 + 4]) == separator }) else { return nil }
        let head = String(decoding: bytes[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(bytes[(end + 4)...])
        var complete = false
        if let length = headers["content-length"].flatMap(Int.init) {
            complete = body.count >= length
            body = Array(body.prefix(length))
        } else if headers["transfer-encoding"]?.lowercased() == "chunked" {
            var decoded: [UInt8] = [], i = 0
            while let lineEnd = (i..<max(i, body.count - 1)).first(where: { body[$0] == 13 && body[$0 + 1] == 10 }),
                  let size = Int(String(decoding: body[i..<lineEnd], as: UTF8.self), radix: 16) {
                if size == 0 { complete = true; break }
                guard lineEnd + 2 + size <= body.count else { break }
                decoded += body[(lineEnd + 2)..<(lineEnd + 2 + size)]
                i = lineEnd + 4 + size
            }
            body = decoded
        }
        return (Answer(status: status, headers: headers, body: body), complete)
    }
}
