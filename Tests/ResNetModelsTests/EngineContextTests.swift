import Foundation
import XCTest
import ResNetEngine
import ResNetLayers
import ResNetModels

/// Engine contexts hold all engine state, so two threads with two contexts run two models at once
/// exactly as they run one after the other, and a context's options and grad mode stay its own.
final class EngineContextTests: XCTestCase {
    /// A small model and its input, built in the context that will run it.
    private struct Model {
        let name: String
        let size: Int
        let configure: (inout ResNetConfig) -> Void

        /// `rounds` times: an inference forward, then one training step's forward and backward
        /// (primitives, blocked and Winograd weight caches, the scratchpad, the pool and grad mode
        /// all take part). Returns each round's inference output, training output and gradients.
        /// `ready` is called once the model is built, before the first round.
        func run(rounds: Int, ready: () -> Void = {}) throws -> [[[Float]]] {
            let net = try ResNetRegistry.make(name, configure)
            let x = Tensor.randomNormal([2, size, size, net.config.inputChannels], seed: 11)
            ready()
            return (0..<rounds).map { _ in
                net.eval()
                let inference = GradMode.withoutGradient { net(x) }.toArray()
                net.train()
                for p in net.namedParameters { p.tensor.zeroGradient() }
                let y = net(x)
                crossEntropy(y, labels: LabelTensor([1, 3])).backward()
                return [inference, y.toArray()] + net.namedParameters.map { $0.tensor.grad?.toArray() ?? [] }
            }
        }
    }

    private let models = [
        Model(name: "resnet20", size: 32, configure: { _ in }),
        Model(name: "resnet18", size: 32, configure: { $0.numClasses = 10 }),
    ]
    private let rounds = 4

    /// Runs `body` on a new thread of its own (OpenMP settings such as the team size are per thread,
    /// so every run here starts from a fresh thread's) and waits for its result.
    private func thread(_ body: @escaping () throws -> [[[Float]]]) -> (start: () -> Void, wait: () throws -> [[[Float]]]) {
        let result = ThreadResults(count: 1), done = DispatchSemaphore(value: 0)
        let thread = Thread {
            result.set(0, Result { try body() })
            done.signal()
        }
        thread.stackSize = 8 << 20
        return ({ thread.start() }, {
            XCTAssertEqual(done.wait(timeout: .now() + 600), .success, "the thread finished")
            return try XCTUnwrap(result.get(0)).get()
        })
    }

    func testTwoContextsOnTwoThreadsMatchRunningOneAfterTheOther() throws {
        let rounds = self.rounds
        let sequential = try models.map { model in
            let run = thread { try EngineContext().run { try model.run(rounds: rounds) } }
            run.start()
            return try run.wait()
        }
        for (model, rounds) in zip(models, sequential) {
            XCTAssertTrue(rounds.allSatisfy { $0.dropFirst(2).allSatisfy { !$0.isEmpty } }, "\(model.name): every parameter got a gradient")
        }

        // Both threads build their model, then start their rounds together.
        let built = DispatchGroup(), go = DispatchSemaphore(value: 0)
        let runs = models.map { model in
            built.enter()
            return thread { try EngineContext().run { try model.run(rounds: rounds) { built.leave(); go.wait() } } }
        }
        for run in runs { run.start() }
        built.wait()
        for _ in runs { go.signal() }
        for (i, (model, run)) in zip(models, runs).enumerated() {
            let concurrent = try run.wait()
            XCTAssertEqual(concurrent.count, rounds)
            for r in 0..<min(rounds, concurrent.count) {
                XCTAssertTrue(concurrent[r] == sequential[i][r], "\(model.name) round \(r) differs when run beside the other model")
            }
        }
    }

    func testGradModeIsPerThread() {
        let entered = DispatchSemaphore(value: 0), checked = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let inside = ThreadResults(count: 1)
        let thread = Thread {
            GradMode.withoutGradient {
                entered.signal()
                checked.wait()
                inside.set(0, .success([[[GradMode.isEnabled ? 1 : 0]]]))
            }
            done.signal()
        }
        thread.start()
        entered.wait()
        // The other thread is inside withoutGradient now; this one still records.
        XCTAssertTrue(GradMode.isEnabled)
        let x = Tensor.randomNormal([2, 3], seed: 1)
        x.requiresGrad = true
        sum(relu(x)).backward()
        XCTAssertNotNil(x.grad, "an op on this thread is recorded")
        checked.signal()
        done.wait()
        XCTAssertEqual(try inside.get(0)?.get(), [[[0]]], "the other thread's recording stayed off")
    }

    /// Convolutions recomputed in backward under a context's fan-in option, from the profiler.
    private func recomputedConvolutions(fanIn: Int) throws -> Int {
        var options = EngineOptions.default
        options.recomputeFanIn = fanIn
        let context = EngineContext(options: options)
        return try context.run {
            let net = try ResNetRegistry.make("resnet20")
            net.train()
            let x = Tensor.randomNormal([2, 16, 16, 3], seed: 2)
            context.profiler.start()
            crossEntropy(net(x), labels: LabelTensor([0, 1])).backward()
            context.profiler.stop()
            return context.profiler.kinds.first { $0.kind == .convolution && $0.pass == .recompute }?.calls ?? 0
        }
    }

    func testRecomputeFanInIsAContextOption() throws {
        XCTAssertEqual(try recomputedConvolutions(fanIn: 0), 0, "fan-in 0 keeps every output")
        // resnet20: only the stem (3x3x3 = fan-in 27) is at most 128; the units' convolutions have 144 and more.
        XCTAssertEqual(try recomputedConvolutions(fanIn: 128), 1)
        // Every convolution followed by a batch norm in a training link: the stem and the second of each unit's two.
        XCTAssertEqual(try recomputedConvolutions(fanIn: .max), 10)
        XCTAssertFalse(EngineContext.current.profiler.isEnabled, "other contexts' profilers leave the default one alone")
    }

    func testContextsKeepTheirOwnMemoryAccounts() {
        let context = EngineContext()
        let before = EngineContext.current.memory.liveBytes
        context.run {
            let t = Tensor(zeros: [1 << 16])
            XCTAssertEqual(context.memory.liveBytes, 1 << 18)
            XCTAssertEqual(EngineContext.current.memory.liveBytes, 1 << 18)
            withExtendedLifetime(t) {}
        }
        XCTAssertEqual(context.memory.liveBytes, 0)
        XCTAssertEqual(context.memory.peakBytes, 1 << 18)
        XCTAssertEqual(EngineContext.current.memory.liveBytes, before, "the default context's pool served nothing")
    }
}

/// Results handed from worker threads to the test, under a lock.
private final class ThreadResults: @unchecked Sendable {
    private var values: [Result<[[[Float]]], Error>?]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: Result<[[[Float]]], Error>) { lock.lock(); values[i] = value; lock.unlock() }
    func get(_ i: Int) -> Result<[[[Float]]], Error>? { lock.lock(); defer { lock.unlock() }; return values[i] }
}
