import ArgumentParser
import Dispatch
import Foundation
import ResNetServe
import ResNetTraining

/// `resnet serve`: an HTTP inference server with dynamic batching for one or more trained models.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve trained models over HTTP with dynamic batching.",
        discussion: """
        POST /v1/predict (one model) or /v1/models/NAME/predict with an image body or multipart/form-data \
        (?top_k=K); GET /v1/models, /health and /metrics (Prometheus). SIGTERM or SIGINT answers the \
        requests already in and exits 0.
        """)

    @Option(name: .customLong("checkpoint"), help: ArgumentHelp(
        "A run directory or a weights file beside its checkpoint.json; NAME=RUN serves it as NAME (default: the run's folder name). Repeat to serve several models.",
        valueName: "RUN"))
    var checkpoints: [String] = []
    /// Published weights, served under the registry name beside any --checkpoint.
    @OptionGroup var publishedWeights: PublishedWeightsOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "TCP port (0: any free port).") var port = 8080
    @Option(help: "Most images per forward pass.") var maxBatch = 32
    @Option(help: "Longest an image waits for its batch to fill, in milliseconds.") var maxDelayMs: Double = 5
    @Option(help: "Most images per model admitted and not yet running; more get 503 (default: 8 x --max-batch).") var queueLimit: Int?
    @Option(help: "Largest request body in bytes; larger get 413.") var maxBodyBytes = 16 << 20
    @Option(help: "Most pixels per image, read from its header before decoding; more get 413.") var maxPixels = 1 << 26

    var options: ServeOptions {
        ServeOptions(host: host, port: port, maxBatch: maxBatch, maxDelayMilliseconds: maxDelayMs,
                     queueLimit: queueLimit, maxBodyBytes: maxBodyBytes, maxPixels: maxPixels)
    }

    /// Every model to serve: each `--checkpoint`, then `--model`/`--weights` if given.
    func specs() throws -> [ModelSpec] {
        try checkpoints.map(ModelSpec.checkpoint(argument:)) + (publishedWeights.published.map { [try ModelSpec.published($0)] } ?? [])
    }

    func validate() throws {
        let p = publishedWeights
        guard !checkpoints.isEmpty || p.model != nil else { throw ValidationError("give at least one --checkpoint RUN, or --model NAME --weights FILE") }
        if p.model != nil && p.weights == nil && p.initSeed == nil { throw ValidationError("--model needs --weights FILE (a torchvision-keyed .safetensors file)") }
        if p.model == nil, let name = p.weights != nil ? "--weights" : p.initSeed != nil ? "--init-seed" : p.optionWithoutModel {
            throw ValidationError("\(name) goes with --model NAME")
        }
        do {
            try options.validate()
            _ = try specs()
        } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let server: InferenceServer
        do {
            server = try InferenceServer(models: specs(), options: options)
        } catch { throw CleanExit.failure("\(error)") }
        let names = server.registry.models.map(\.name)
        let host = self.host
        let failure = ServeFailure()
        let done = DispatchSemaphore(value: 0)
        // The server is async; this command's thread waits for it (signals end it gracefully).
        Task {
            do {
                try await server.run { port in
                    print("serving \(names.joined(separator: ", ")) on http://\(host):\(port)")
                    fflush(stdout)
                }
            } catch { failure.set("\(error)") }
            done.signal()
        }
        done.wait()
        if let message = failure.get() { throw CleanExit.failure(message) }
        print("stopped: every request answered")
    }
}

/// The server task's error, handed to the command's thread.
private final class ServeFailure: @unchecked Sendable {
    private var message: String?
    private let lock = NSLock()
    func set(_ m: String) { lock.lock(); message = m; lock.unlock() }
    func get() -> String? { lock.lock(); defer { lock.unlock() }; return message }
}
