/// A predict request's images and options, read from its body, Content-Type and query: the body
/// is one image (JPEG, PNG or PPM/PGM, recognised by its bytes), or multipart/form-data with one
/// image per part.
struct PredictRequest: Equatable {
    struct Image: Equatable {
        /// The name answers and errors use: the part's filename or name, or "image" for a plain body.
        var label: String
        var bytes: [UInt8]
    }

    var images: [Image]
    var topK: Int
    /// Whether the body was multipart: the answer then lists one result per part.
    var multipart: Bool

    static let defaultTopK = 5

    /// `topK` is the `top_k` query parameter, if given.
    init(body: [UInt8], contentType: String?, topK: String?) throws {
        if let topK {
            guard let k = Int(topK), k >= 1 else { throw RequestError.badRequest("top_k must be a whole number of at least 1 (got '\(topK.prefix(40))')") }
            self.topK = k
        } else {
            self.topK = Self.defaultTopK
        }
        guard !body.isEmpty else {
            throw RequestError.badRequest("empty body: send one image (JPEG, PNG, PPM/PGM) or multipart/form-data with image parts")
        }
        if let contentType, let boundary = try MultipartFormData.boundary(contentType: contentType) {
            let form = try MultipartFormData(body: body, boundary: boundary)
            guard !form.parts.isEmpty else { throw RequestError.badRequest("multipart body has no parts") }
            images = form.parts.enumerated().map { i, part in
                Image(label: part.filename ?? part.name ?? "part \(i + 1)", bytes: Array(part.body))
            }
            multipart = true
        } else {
            images = [Image(label: "image", bytes: body)]
            multipart = false
        }
    }
}
