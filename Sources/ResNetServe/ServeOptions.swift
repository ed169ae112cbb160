import ResNetData

/// How `resnet serve` listens, batches and limits what clients send. Validated before any model
/// is loaded, so a bad option fails at once with the option's name and its limit.
public struct ServeOptions: Sendable, Equatable {
    public var host: String
    /// 0 asks the system for a free port (the tests' ephemeral servers).
    public var port: Int
    /// Most images one forward pass takes.
    public var maxBatch: Int
    /// Longest an image waits for others to fill its batch, from the moment the oldest one queued.
    public var maxDelayMilliseconds: Double
    /// Most images admitted per model and not yet in a running batch (decoding or waiting);
    /// a request that would pass it is answered 503 with Retry-After.
    public var queueLimit: Int
    /// Largest request body read; larger ones are answered 413 without reading them all.
    public var maxBodyBytes: Int
    /// Most pixels (width x height, from the image's header) an image may have; more is 413 before
    /// decoding, so a small compressed body cannot make the server allocate gigabytes.
    public var maxPixels: Int

    public init(host: String = "127.0.0.1", port: Int = 8080, maxBatch: Int = 32, maxDelayMilliseconds: Double = 5,
                queueLimit: Int? = nil, maxBodyBytes: Int = 16 << 20, maxPixels: Int = 1 << 26) {
        self.host = host
        self.port = port
        self.maxBatch = maxBatch
        self.maxDelayMilliseconds = maxDelayMilliseconds
        self.queueLimit = queueLimit ?? 8 * maxBatch
        self.maxBodyBytes = maxBodyBytes
        self.maxPixels = maxPixels
    }

    /// Largest accepted values: a batch beyond this would be a memory hazard, not a throughput gain.
    public static let maxBatchLimit = 4096
    public static let maxDelayLimitMilliseconds: Double = 60_000

    /// Throws `ServeSetupError.invalidOption` naming the first option out of range.
    public func validate() throws {
        func fail(_ option: String, _ message: String) -> ServeSetupError { .invalidOption(option: option, message: message) }
        guard !host.isEmpty else { throw fail("--host", "must not be empty") }
        guard (0...65535).contains(port) else { throw fail("--port", "must be 0...65535 (got \(port))") }
        guard (1...Self.maxBatchLimit).contains(maxBatch) else { throw fail("--max-batch", "must be 1...\(Self.maxBatchLimit) (got \(maxBatch))") }
        guard maxDelayMilliseconds.isFinite, (0...Self.maxDelayLimitMilliseconds).contains(maxDelayMilliseconds) else {
            throw fail("--max-delay-ms", "must be 0...\(Int(Self.maxDelayLimitMilliseconds)) (got \(maxDelayMilliseconds))")
        }
        guard queueLimit >= 1 else { throw fail("--queue-limit", "must be at least 1 (got \(queueLimit))") }
        guard maxBodyBytes >= 1 else { throw fail("--max-body-bytes", "must be at least 1 (got \(maxBodyBytes))") }
        guard (1...ImageDecoder.maxPixels).contains(maxPixels) else {
            throw fail("--max-pixels", "must be 1...\(ImageDecoder.maxPixels) (got \(maxPixels))")
        }
    }
}

/// Why the server could not start: a bad option or a model that does not load.
public enum ServeSetupError: Error, CustomStringConvertible, Equatable {
    case invalidOption(option: String, message: String)
    case model(name: String, message: String)

    public var description: String {
        switch self {
        case let .invalidOption(option, message): return "\(option) \(message)"
        case let .model(name, message): return "model \(name): \(message)"
        }
    }
}
