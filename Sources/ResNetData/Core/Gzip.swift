import CZlib

/// zlib wrappers: IDX files ship gzip'd, and the test suite needs to write gzip and
/// zlib streams (IDX fixtures, hand-made PNGs) without shelling out.
public enum Gzip {
    /// Whether `bytes` start with the gzip magic (1f 8b).
    public static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b }

    /// Inflates a gzip or zlib stream (auto-detected: windowBits 15+32). `source` names the
    /// file in errors; a truncated stream is an error, never a silent short result. Output
    /// beyond `maxOutput` bytes is an error too, so a small "bomb" cannot exhaust memory.
    public static func decompress(_ input: [UInt8], source: String, maxOutput: Int = FileIO.maxReadBytes) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError.badDataFile(path: source, reason: "zlib initialisation failed")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(min(input.count * 4, maxOutput))
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var status: Int32 = Z_OK
        try input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = uInt(inBuf.count)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return outBuf.count - Int(stream.avail_out)
                }
                guard output.count + produced <= maxOutput else {
                    throw DataError.badDataFile(path: source, reason: "decompresses to more than the \(FileIO.byteText(maxOutput)) limit")
                }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_STREAM_END { break }
                if status == Z_BUF_ERROR && stream.avail_in == 0 {
                    throw DataError.badDataFile(path: source, reason: "compressed stream is truncated")
                }
                if status != Z_OK && status != Z_BUF_ERROR {
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw DataError.badDataFile(path: source, reason: "cannot decompress: \(message)")
                }
            } while true
        }
        return output
    }

    /// Deflates `input` as a gzip stream (`gzip: true`) or a zlib stream.
    public static func compress(_ input: [UInt8], gzip: Bool = true, level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        let windowBits: Int32 = gzip ? 15 + 16 : 15
        guard deflateInit2_(&stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY,
                             ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return [] }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 32)
        input.withUnsafeBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = uInt(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = uInt(outBuf.count)
                _ = deflate(&stream, Z_FINISH)
            }
        }
        output.removeLast(Int(stream.avail_out))
        return output
    }

    /// CRC-32 as PNG chunks use it.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        UInt32(bytes.withUnsafeBufferPointer { CZlib.crc32(0, $0.baseAddress, uInt($0.count)) })
    }
}
