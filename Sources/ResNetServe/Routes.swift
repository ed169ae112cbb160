import Foundation
import Hummingbird
import NIOCore

/// The HTTP surface: predict (one model or by name), model descriptions, health and metrics.
/// Handlers answer every failure with a JSON `{"error": ...}` and its status; nothing a client
/// sends reaches a precondition.
struct Routes: Sendable {
    let registry: ModelRegistry
    let options: ServeOptions
    let metrics: ServeMetrics
    let decodePool: DecodePool

    /// Route labels for metrics: fixed strings, so unknown paths cannot grow the label set.
    enum Route: String {
        case predict = "/v1/predict", modelPredict = "/v1/models/{name}/predict", models = "/v1/models"
        case health = "/health", metrics = "/metrics", other

        /// The route a request path names (before routing, so middleware can label it).
        init(path: String) {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 5, parts[0].isEmpty, parts[1] == "v1", parts[2] == "models", parts[4] == "predict" {
                self = .modelPredict
            } else {
                self = Route(rawValue: path) ?? .other
            }
        }
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        router.get("/health") { _, _ in
            json(["status": "ok", "models": registry.models.map(\.name)])
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.get("/v1/models") { _, _ in
            json(["models": registry.models.map(ModelDescription.json)])
        }
        router.post("/v1/predict") { request, _ in
            guard registry.models.count == 1 else {
                return error(.badRequest("\(registry.models.count) models are served: POST /v1/models/NAME/predict with NAME one of "
                                         + registry.models.map(\.name).joined(separator: ", ")))
            }
            return await predict(request, model: registry.models[0])
        }
        router.post("/v1/models/:name/predict") { request, context in
            let name = context.parameters.get("name") ?? ""
            guard let model = registry.model(named: name) else {
                return error(.notFound("no model named '\(name.prefix(128))'; served: " + registry.models.map(\.name).joined(separator: ", ")))
            }
            return await predict(request, model: model)
        }
        return router
    }

    /// Reads, decodes, batches and answers one predict request; records its latency.
    func predict(_ request: Request, model: ServedModel) async -> Response {
        let started = ContinuousClock.now
        defer {
            let elapsed = ContinuousClock.now - started
            metrics.recordLatency(model: model.name, seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        }
        do {
            return try await answer(request, model: model)
        } catch let failure as RequestError {
            return error(failure)
        } catch {
            return self.error(.internalError("\(error)"))
        }
    }

    private func answer(_ request: Request, model: ServedModel) async throws -> Response {
        // A declared length over the limit is refused before reading any of it.
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > options.maxBodyBytes {
            throw RequestError.tooLarge(limit: options.maxBodyBytes)
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: options.maxBodyBytes) } catch is NIOTooManyBytesError {
            throw RequestError.tooLarge(limit: options.maxBodyBytes)
        }
        let parsed = try PredictRequest(body: Array(buffer: body), contentType: request.headers[.contentType],
                                        topK: request.uri.queryParameters["top_k"].map(String.init))
        for image in parsed.images {
            if let size = ImageDimensions.read(image.bytes), ImageDimensions.pixels(size) > options.maxPixels {
                throw RequestError.imageTooLarge(label: image.label, width: size.width, height: size.height, limit: options.maxPixels)
            }
        }
        // More images than the queue can ever hold would be 503 forever: say so instead.
        guard parsed.images.count <= model.batcher.queueLimit else {
            throw RequestError.tooManyImages(count: parsed.images.count, limit: model.batcher.queueLimit)
        }
        let reservation: DynamicBatcher<[Float], [Float]>.Reservation
        do { reservation = try model.batcher.reserve(parsed.images.count) } catch let failure as DynamicBatcher<[Float], [Float]>.Failure {
            throw RequestError.unavailable("model \(model.name): \(failure)")
        }
        let inputs: [[Float]]
        do {
            let images = parsed.images
            inputs = try await decodePool.run { try images.map { try model.input(decoding: $0.bytes, source: $0.label) } }
        } catch {
            model.batcher.release(reservation)
            throw RequestError.badRequest("\(error)")
        }
        let outputs: [[Float]]
        do { outputs = try await model.batcher.submit(inputs, reservation: reservation) } catch let failure as DynamicBatcher<[Float], [Float]>.Failure {
            if case .runFailed = failure { throw RequestError.internalError("model \(model.name): \(failure)") }
            throw RequestError.unavailable("model \(model.name): \(failure)")
        }
        let k = min(parsed.topK, model.classNames.count)
        let predictions = outputs.map { probabilities in
            model.topK(probabilities, k: k).map { ["class": $0.name, "probability": Double($0.probability)] as [String: Any] }
        }
        if parsed.multipart {
            return json(["model": model.name, "results": zip(parsed.images, predictions).map { ["image": $0.label, "predictions": $1] }])
        }
        return json(["model": model.name, "predictions": predictions[0]])
    }

    func json(_ object: [String: Any], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func error(_ failure: RequestError) -> Response {
        var headers: HTTPFields = [:]
        if failure.status == 503 { headers[.retryAfter] = String(RequestError.retryAfterSeconds) }
        return json(["error": failure.description], status: HTTPResponse.Status(code: failure.status), headers: headers)
    }
}

/// Counts every answered request by route and status, errors the router throws (404, 405) included.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServeMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let route = Routes.Route(path: request.uri.path).rawValue
        do {
            let response = try await next(request, context)
            metrics.recordRequest(route: route, status: response.status.code)
            return response
        } catch {
            metrics.recordRequest(route: route, status: (error as? any HTTPResponseError)?.status.code ?? 500)
            throw error
        }
    }
}
