/// What a request did wrong (or why it cannot be served now), as the HTTP status it is answered
/// with and a message naming the reason. Handlers turn every failure into one of these.
enum RequestError: Error, Equatable, CustomStringConvertible {
    /// 400: the body, a parameter or an image is unusable.
    case badRequest(String)
    /// 404: no such model.
    case notFound(String)
    /// 413: the body is over `--max-body-bytes`.
    case tooLarge(limit: Int)
    /// 413: more images in one request than the model's queue admits at all.
    case tooManyImages(count: Int, limit: Int)
    /// 413: an image's header claims more pixels than `--max-pixels`.
    case imageTooLarge(label: String, width: Int, height: Int, limit: Int)
    /// 503 with Retry-After: the model's queue is full, or the server is draining.
    case unavailable(String)
    /// 500: the server's fault, not the client's.
    case internalError(String)

    var status: Int {
        switch self {
        case .badRequest: return 400
        case .notFound: return 404
        case .tooLarge, .tooManyImages, .imageTooLarge: return 413
        case .unavailable: return 503
        case .internalError: return 500
        }
    }

    var description: String {
        switch self {
        case .badRequest(let message), .notFound(let message), .unavailable(let message), .internalError(let message): return message
        case .tooLarge(let limit): return "request body is larger than the \(limit)-byte limit (--max-body-bytes)"
        case let .imageTooLarge(label, width, height, limit):
            return "\(label) is \(width)x\(height), more than the \(limit)-pixel limit (--max-pixels)"
        case let .tooManyImages(count, limit):
            return "the request holds \(count) images; this server admits at most \(limit) at once (--queue-limit)"
        }
    }

    /// Seconds a client should wait before retrying a 503.
    static let retryAfterSeconds = 1
}
