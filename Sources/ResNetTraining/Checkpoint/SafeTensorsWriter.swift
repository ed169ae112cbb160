import Foundation
import ResNetEngine

extension SafeTensors {
    /// Writes `tensors` atomically (see `AtomicFile`): keys sorted, each tensor F32 except those
    /// `int64Keys` picks, which are written as I64 (torchvision's `num_batches_tracked`). Values
    /// written as I64 must be finite integers. `metadata` goes in `__metadata__` when not empty.
    public static func write(
        _ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL,
        int64Keys: (String) -> Bool = { $0.hasSuffix("num_batches_tracked") }
    ) throws {
        let file = url.path
        let names = tensors.keys.sorted()
        var layout: [(name: String, tensor: Tensor, dtype: DType)] = []
        layout.reserveCapacity(names.count)
        for name in names {
            guard name != metadataKey else { throw SafeTensorsError.reservedName(file: file, key: name) }
            guard let tensor = tensors[name] else { continue }
            let dtype: DType = int64Keys(name) ? .i64 : .f32
            if dtype == .i64 {
                // Checked before anything is written so a bad value cannot leave a half file.
                try tensor.withHostValues { values in
                    for v in values {
                        guard v.isFinite, v.rounded() == v, Int64(exactly: v) != nil else {
                            throw SafeTensorsError.unrepresentableValue(file: file, key: name, value: v, dtype: "I64")
                        }
                    }
                }
            }
            layout.append((name, tensor, dtype))
        }
        let header = headerBytes(
            metadata: metadata, entries: layout.map { ($0.name, $0.dtype, $0.tensor.shape) })

        try AtomicFile.write(to: url) { handle in
            var prefix = Data(count: 8)
            let n = UInt64(header.count)
            for i in 0..<8 { prefix[i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i))) }
            try handle.write(contentsOf: prefix)
            try handle.write(contentsOf: header)
            for item in layout {
                try handle.write(contentsOf: encode(item.tensor, as: item.dtype))
            }
        }
    }

    /// The padded JSON header for entries laid out in the given order (offsets are cumulative).
    /// Format as the reference writer: `{"__metadata__":{..},"name":{"dtype":"F32","shape":[..],
    /// "data_offsets":[b,e]},..}` with no whitespace, then spaces up to a multiple of 8 bytes.
    static func headerBytes(metadata: [String: String], entries: [(String, DType, [Int])]) -> Data {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += "\"\(metadataKey)\":{"
            json += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0] ?? ""))" }
                .joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for (name, dtype, shape) in entries {
            let size = shape.reduce(dtype.size, *)
            if !first { json += "," }
            first = false
            json += "\(jsonString(name)):{\"dtype\":\"\(dtype.rawValue)\","
            json += "\"shape\":[\(shape.map(String.init).joined(separator: ","))],"
            json += "\"data_offsets\":[\(offset),\(offset + size)]}"
            offset += size
        }
        json += "}"
        var bytes = Data(json.utf8)
        let padded = (bytes.count + 7) / 8 * 8
        bytes.append(contentsOf: [UInt8](repeating: UInt8(ascii: " "), count: padded - bytes.count))
        return bytes
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped; other
    /// characters, non-ASCII included, are written as UTF-8.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// The little-endian bytes of a tensor as F32 or I64.
    private static func encode(_ tensor: Tensor, as dtype: DType) -> Data {
        tensor.withHostValues { src in
            let count = src.count
            switch dtype {
            case .i64:
                var data = Data(count: count * 8)
                data.withUnsafeMutableBytes { raw in
                    for i in 0..<count {
                        raw.storeBytes(of: Int64(src[i]).littleEndian, toByteOffset: 8 * i, as: Int64.self)
                    }
                }
                return data
            default:
                #if _endian(little)
                return Data(buffer: src)
                #else
                var data = Data(count: count * 4)
                data.withUnsafeMutableBytes { raw in
                    for i in 0..<count {
                        raw.storeBytes(of: src[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                    }
                }
                return data
                #endif
            }
        }
    }
}
