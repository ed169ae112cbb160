import Foundation
import ResNetData
@testable import ResNetServe
import ResNetTraining
import XCTest

/// The server end to end in this process: concurrent clients get exactly the predictor's answers,
/// batches of more than one image really run, and every bad request gets its status and reason
/// while the server keeps serving.
final class InferenceServerTests: XCTestCase {
    private var fixture: ServeFixture!

    override func setUpWithError() throws {
        fixture = try ServeFixture.shared.get()
    }

    /// The predictor's top-k for a file, as the JSON rows `resnet predict --format json` prints.
    private func expected(_ run: String, _ path: String, k: Int) throws -> [(String, Float)] {
        try Predictor(checkpoint: run).topK(file: path, k: k).map { ($0.name, $0.probability) }
    }

    /// Same classes in the same order; probabilities equal bit for bit (Float -> Double -> JSON ->
    /// Double -> Float is exact), or within `tolerance` where the batch size differs from the
    /// predictor's 1: oneDNN chooses its kernels by batch size, which moves the last bits.
    private func assertPredictions(_ rows: Any?, equal expected: [(String, Float)], tolerance: Float = 0, _ message: String, line: UInt = #line) {
        guard let rows = rows as? [[String: Any]] else { return XCTFail("\(message): no predictions in \(String(describing: rows))", line: line) }
        XCTAssertEqual(rows.map { $0["class"] as? String }, expected.map(\.0), message, line: line)
        let probabilities = rows.map { ($0["probability"] as? Double).map(Float.init) ?? -1 }
        if tolerance == 0 {
            XCTAssertEqual(probabilities, expected.map(\.1), message, line: line)
        } else {
            let worst = zip(probabilities, expected.map(\.1)).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, tolerance, "\(message): \(probabilities) vs \(expected.map(\.1))", line: line)
        }
    }

    /// Batched answers may differ from batch-1 ones in the last bits (seen: at most 9e-8).
    private let batchedTolerance: Float = 1e-6

    func testConcurrentClientsGetThePredictorsTopKInBatchesOfMoreThanOne() throws {
        // A long delay holds the first image until others arrive: batches form even on a loaded machine.
        let served = try RunningServer(models: [ModelSpec(name: "alpha", source: .checkpoint(fixture.runA))],
                                       options: ServeOptions(maxBatch: 8, maxDelayMilliseconds: 300, maxBodyBytes: 1 << 20))
        defer { served.stop() }
        let images = fixture.images
        let expected = try images.map { try self.expected(fixture.runA, $0.path, k: 3) }
        let requests = 27  // each image three times
        let answers = LockedArray<HTTPTestClient.Answer?>(count: requests)
        let errors = LockedArray<String?>(count: requests)
        DispatchQueue.concurrentPerform(iterations: requests) { i in
            do { answers.set(i, try served.client.post("/v1/predict?top_k=3", image: images[i % images.count].bytes)) } catch {
                errors.set(i, "\(error)")
            }
        }
        XCTAssertEqual(errors.values.compactMap { $0 }, [], "every client got an answer")
        for (i, answer) in answers.values.enumerated() {
            guard let answer else { continue }
            XCTAssertEqual(answer.status, 200, "request \(i): \(answer.text)")
            XCTAssertEqual(answer.json?["model"] as? String, "alpha")
            assertPredictions(answer.json?["predictions"], equal: expected[i % images.count], tolerance: batchedTolerance,
                              "request \(i) (\(images[i % images.count].path))")
        }
        let batches = try XCTUnwrap(served.metric("resnet_serve_batch_size_images_count{model=\"alpha\"}"))
        let single = try XCTUnwrap(served.metric("resnet_serve_batch_size_images_bucket{model=\"alpha\",le=\"1.0\"}"))
        let classified = try XCTUnwrap(served.metric("resnet_serve_images_total{model=\"alpha\"}"))
        XCTAssertEqual(classified, Double(requests), "every image ran once")
        XCTAssertLessThan(batches, Double(requests), "some batch held more than one image")
        XCTAssertLessThan(single, batches, "not every batch was a single image")
        XCTAssertEqual(try served.metric("resnet_serve_requests_total{route=\"/v1/predict\",status=\"200\"}"), Double(requests))
        XCTAssertEqual(try served.metric("resnet_serve_request_duration_seconds_count{model=\"alpha\"}"), Double(requests))
        XCTAssertEqual(try served.metric("resnet_serve_queue_depth_images{model=\"alpha\"}"), 0)
    }

    /// With batches of one image the answers are the predictor's bit for bit.
    func testMultipartAnswersEachPartInOrderExactlyAsPredictAtBatchOne() throws {
        let served = try RunningServer(models: [ModelSpec(name: "alpha", source: .checkpoint(fixture.runA))],
                                       options: ServeOptions(maxBatch: 1, maxDelayMilliseconds: 1, queueLimit: 16))
        defer { served.stop() }
        let parts = fixture.images.map { (URL(fileURLWithPath: $0.path).lastPathComponent, $0.bytes) }
        let answer = try served.client.post("/v1/predict?top_k=2", parts: parts)
        XCTAssertEqual(answer.status, 200, answer.text)
        let results = try XCTUnwrap(answer.json?["results"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["image"] as? String }, parts.map(\.0))
        for (result, image) in zip(results, fixture.images) {
            assertPredictions(result["predictions"], equal: try expected(fixture.runA, image.path, k: 2), image.path)
        }
        // More images than the queue admits at all: 413, not a 503 that retrying cannot cure.
        let tooMany = try served.client.post("/v1/predict", parts: Array(repeating: parts[0], count: 17))
        XCTAssertEqual(tooMany.status, 413, tooMany.text)
        XCTAssertTrue((tooMany.json?["error"] as? String ?? "").contains("17 images"), tooMany.text)
        // top_k above the class count lists every class.
        let all = try served.client.post("/v1/predict?top_k=50", image: fixture.images[0].bytes)
        assertPredictions(all.json?["predictions"], equal: try expected(fixture.runA, fixture.images[0].path, k: 3), "top_k=50")
    }

    func testBadRequestsGetTheirStatusAndReasonAndTheServerKeepsServing() throws {
        let served = try RunningServer(models: [ModelSpec(name: "alpha", source: .checkpoint(fixture.runA))],
                                       options: ServeOptions(maxBatch: 4, maxDelayMilliseconds: 1, maxBodyBytes: 4096))
        defer { served.stop() }
        let client = served.client
        let png = try XCTUnwrap(fixture.images.first { $0.path.hasSuffix(".png") }).bytes
        let jpeg = try XCTUnwrap(fixture.images.first { $0.path.hasSuffix(".jpg") }).bytes
        func check(_ answer: HTTPTestClient.Answer, _ status: Int, saying text: String, _ name: String, line: UInt = #line) {
            XCTAssertEqual(answer.status, status, "\(name): \(answer.text)", line: line)
            let message = answer.json?["error"] as? String ?? ""
            XCTAssertTrue(message.contains(text), "\(name): '\(message)' lacks '\(text)'", line: line)
        }
        check(try client.post("/v1/predict", image: Array("hello, not an image".utf8)), 400, saying: "not a JPEG, PNG", "garbage")
        check(try client.post("/v1/predict", image: Array(png.prefix(png.count / 2))), 400, saying: "PNG", "truncated PNG")
        check(try client.post("/v1/predict", image: Array(jpeg.prefix(40))), 400, saying: "JPEG", "truncated JPEG")
        check(try client.post("/v1/predict", image: Array("P6\n100 100\n255\n".utf8)), 400, saying: "PPM", "PPM header only")
        check(try client.post("/v1/predict", image: []), 400, saying: "empty body", "empty body")
        check(try client.post("/v1/predict?top_k=0", image: png), 400, saying: "top_k", "top_k=0")
        check(try client.post("/v1/predict?top_k=abc", image: png), 400, saying: "top_k", "top_k=abc")
        check(try client.post("/v1/predict", parts: [("good.png", png), ("bad.png", Array(png.prefix(30)))]), 400,
              saying: "bad.png", "multipart with one bad part")
        check(try client.post("/v1/predict", image: png, contentType: "multipart/form-data"), 400, saying: "boundary", "multipart without boundary")
        check(try client.post("/v1/predict", image: png, contentType: "multipart/form-data; boundary=xyz"), 400,
              saying: "no boundary line", "multipart body without its boundary")
        let truncatedForm = Array("--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n".utf8) + png
        check(try client.post("/v1/predict", image: truncatedForm, contentType: "multipart/form-data; boundary=xyz"), 400,
              saying: "truncated", "multipart part without its closing boundary")
        // A header claiming more pixels than --max-pixels: refused before decoding.
        var huge = png
        huge.replaceSubrange(16..<24, with: [0, 0, 0x3E, 0x80, 0, 0, 0x3E, 0x80])  // 16000x16000
        check(try client.post("/v1/predict", image: huge), 413, saying: "16000x16000, more than the 67108864-pixel limit", "huge PNG header")
        let big = [UInt8](repeating: 7, count: 5000)
        check(try client.post("/v1/predict", image: big), 413, saying: "4096-byte limit", "oversized with Content-Length")
        // Chunked, no Content-Length: the limit holds while reading.
        var chunked = Array("POST /v1/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for _ in 0..<5 { chunked += Array("3e8\r\n".utf8) + [UInt8](repeating: 1, count: 1000) + Array("\r\n".utf8) }
        chunked += Array("0\r\n\r\n".utf8)
        check(try client.send(raw: chunked), 413, saying: "4096-byte limit", "oversized chunked")
        check(try client.post("/v1/models/nope/predict", image: png), 404, saying: "no model named 'nope'", "unknown model")
        XCTAssertEqual(try client.get("/v2/whatever").status, 404, "unknown route")
        // A body shorter than its Content-Length, then the client hangs up: no answer is owed, nothing breaks.
        _ = try? client.send(raw: Array("POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".utf8) + Array(png.prefix(100)),
                             closeWriteAfter: true)
        _ = try? client.send(raw: Array("GARBAGE\r\n\r\n".utf8))
        _ = try? client.send(raw: Array("POST /v1/predict HTTP/1.1\r\nContent-Length: -5\r\n\r\n".utf8))

        // Still serving, with the right answer.
        XCTAssertEqual(try client.get("/health").status, 200)
        let good = try client.post("/v1/predict?top_k=3", image: png)
        XCTAssertEqual(good.status, 200, good.text)
        assertPredictions(good.json?["predictions"], equal: try expected(fixture.runA, fixture.images.first { $0.path.hasSuffix(".png") }!.path, k: 3), "after the bad requests")
        XCTAssertEqual(try served.metric("resnet_serve_requests_total{route=\"/v1/predict\",status=\"413\"}"), 3)
        XCTAssertEqual(try served.metric("resnet_serve_requests_total{route=\"/v1/models/{name}/predict\",status=\"404\"}"), 1)
        XCTAssertEqual(try served.metric("resnet_serve_queue_depth_images{model=\"alpha\"}"), 0, "failed decodes gave their places back")
    }

    func testAFullQueueAnswers503AndShutdownDrainsWhatIsQueued() throws {
        // Two images fill the queue and wait out a long delay; shutdown runs them at once.
        let served = try RunningServer(models: [ModelSpec(name: "alpha", source: .checkpoint(fixture.runA))],
                                       options: ServeOptions(maxBatch: 32, maxDelayMilliseconds: 60_000, queueLimit: 2))
        let image = fixture.images[0]
        let answers = LockedArray<HTTPTestClient.Answer?>(count: 2)
        let group = DispatchGroup()
        for i in 0..<2 {
            DispatchQueue.global().async(group: group) { answers.set(i, try? served.client.post("/v1/predict?top_k=3", image: image.bytes)) }
        }
        // Wait (without a clock) until both are admitted.
        var depth = 0.0
        for _ in 0..<600 where depth < 2 {
            depth = try served.metric("resnet_serve_queue_depth_images{model=\"alpha\"}") ?? 0
            if depth < 2 { usleep(50_000) }
        }
        XCTAssertEqual(depth, 2, "both requests are queued")
        let refused = try served.client.post("/v1/predict", image: image.bytes)
        XCTAssertEqual(refused.status, 503, refused.text)
        XCTAssertEqual(refused.headers["retry-after"], "1")
        XCTAssertTrue((refused.json?["error"] as? String ?? "").contains("queue is full"), refused.text)
        XCTAssertEqual(answers.values.compactMap { $0 }.count, 0, "the queued requests are still waiting")

        served.stop()  // graceful: the queued batch runs now, not after 60 s
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        let expected = try self.expected(fixture.runA, image.path, k: 3)
        for answer in answers.values {
            XCTAssertEqual(answer?.status, 200, answer?.text ?? "no answer")
            assertPredictions(answer?.json?["predictions"], equal: expected, tolerance: batchedTolerance, "drained request")
        }
    }

    func testSeveralModelsAreRoutedByName() throws {
        let served = try RunningServer(models: [ModelSpec(name: "alpha", source: .checkpoint(fixture.runA)),
                                                ModelSpec(name: "beta", source: .checkpoint(fixture.runB))],
                                       options: ServeOptions(maxBatch: 4, maxDelayMilliseconds: 1))
        defer { served.stop() }
        let client = served.client
        let image = fixture.images[1]
        let a = try expected(fixture.runA, image.path, k: 3), b = try expected(fixture.runB, image.path, k: 3)
        XCTAssertNotEqual(a.map(\.1), b.map(\.1), "the two runs differ, so routing is visible")
        let answerA = try client.post("/v1/models/alpha/predict?top_k=3", image: image.bytes)
        let answerB = try client.post("/v1/models/beta/predict?top_k=3", image: image.bytes)
        assertPredictions(answerA.json?["predictions"], equal: a, "alpha")
        assertPredictions(answerB.json?["predictions"], equal: b, "beta")
        XCTAssertEqual(answerB.json?["model"] as? String, "beta")
        let ambiguous = try client.post("/v1/predict", image: image.bytes)
        XCTAssertEqual(ambiguous.status, 400)
        XCTAssertTrue((ambiguous.json?["error"] as? String ?? "").contains("alpha, beta"), ambiguous.text)

        let models = try XCTUnwrap(client.get("/v1/models").json?["models"] as? [[String: Any]])
        XCTAssertEqual(models.map { $0["name"] as? String }, ["alpha", "beta"])
        let info = try Predictor(checkpoint: fixture.runA)
        XCTAssertEqual(models[0]["classes"] as? [String], info.classNames)
        XCTAssertEqual(models[0]["architecture"] as? String, "resnet20")
        let preprocessing = try XCTUnwrap(models[0]["preprocessing"] as? [String: Any])
        XCTAssertEqual(preprocessing["height"] as? Int, info.preprocessing.height)
        XCTAssertEqual(preprocessing["width"] as? Int, 12)
        XCTAssertEqual(preprocessing["channels"] as? Int, 3)
        XCTAssertEqual((preprocessing["rescale"] as? Double).map(Float.init), info.preprocessing.rescale)
        let health = try client.get("/health")
        XCTAssertEqual(health.json?["models"] as? [String], ["alpha", "beta"])
    }

    /// Metrics label requests by route from a fixed set, so random paths cannot grow the label set.
    func testRouteLabelsAreAFixedSet() {
        XCTAssertEqual(Routes.Route(path: "/v1/predict"), .predict)
        XCTAssertEqual(Routes.Route(path: "/v1/models/anything/predict"), .modelPredict)
        XCTAssertEqual(Routes.Route(path: "/v1/models"), .models)
        XCTAssertEqual(Routes.Route(path: "/v1/models/a/b/predict"), .other)
        XCTAssertEqual(Routes.Route(path: "/random-\(UInt64.random(in: 0...UInt64.max))"), .other)
    }

    func testAModelThatDoesNotLoadIsNamedAndNothingListens() {
        let missing = fixture.directory.appendingPathComponent("no-such-run").path
        XCTAssertThrowsError(try InferenceServer(models: [ModelSpec(name: "ghost", source: .checkpoint(missing))],
                                                 options: ServeOptions(port: 0))) { error in
            XCTAssertTrue("\(error)".hasPrefix("model ghost:"), "\(error)")
        }
        XCTAssertThrowsError(try InferenceServer(models: [ModelSpec(name: "a", source: .checkpoint(fixture.runA)),
                                                          ModelSpec(name: "a", source: .checkpoint(fixture.runB))],
                                                 options: ServeOptions(port: 0))) { error in
            XCTAssertTrue("\(error)".contains("two models are named 'a'"), "\(error)")
        }
    }
}

/// Results written by concurrent clients, read by the test afterwards.
final class LockedArray<Element>: @unchecked Sendable {
    private var storage: [Element]
    private let lock = NSLock()
    init(count: Int) where Element: ExpressibleByNilLiteral { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: Element) { lock.lock(); storage[i] = value; lock.unlock() }
    var values: [Element] { lock.lock(); defer { lock.unlock() }; return storage }
}
