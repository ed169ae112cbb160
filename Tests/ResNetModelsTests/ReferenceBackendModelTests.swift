import XCTest
import ResNetEngine
import ResNetLayers
import ResNetModels

/// Whole networks on two backends: resnet20 (CIFAR, option-A shortcuts) and resnet18 (torchvision)
/// run on the CPU backend and on the float64 reference backend from the same weights, BN statistics,
/// input and momentum buffers. Inference logits (folded batch norms), training logits, the loss,
/// every parameter's gradient, every parameter and momentum buffer after one SGD step (momentum 0.9,
/// weight decay 5e-4) and every BN buffer after the step agree within 1e-4 relative:
/// per tensor, max |cpu - reference| <= 1e-4 * max |reference| + 1e-7.
/// The same comparison holds the CPU backend with every fusion masked off (`EngineOptions.capabilities`
/// = []) to the fused one within 1e-5: the ops' fallbacks compute what the fusions do.
///
/// A ReLU input or a max-pool runner-up within float32's rounding of its branch point can take the
/// other branch on the CPU and move a whole gradient element: with input seed 7, resnet18's
/// `layer1.0.bn1` saw one such ReLU input (1.5e-7 of its tensor's scale from 0) and the blocked
/// layout's rounding flipped it, moving `layer1.0.bn1.bias` of channel 29 by 1% and everything
/// upstream of it; seeds 9 and 10 agree in both layouts. So each case names an input seed that
/// agrees, and a failure reports the reference's smallest margin (`ReferenceKinkMargin`) to tell
/// a flipped branch (a margin near 1e-7) from a wrong kernel.
final class ReferenceBackendModelTests: XCTestCase {
    /// A model and what it is fed.
    private struct Case {
        var name: String
        var configure: (inout ResNetConfig) -> Void
        var input: [Int]
        var labels: [Int32]
        /// The seed of the input's values.
        var inputSeed: UInt64 = 7
    }

    private let resnet20 = Case(name: "resnet20", configure: { $0.numClasses = 5 }, input: [2, 32, 32, 3], labels: [1, 4])
    private let resnet18 = Case(name: "resnet18", configure: { $0.numClasses = 6 }, input: [3, 64, 64, 3], labels: [5, 0, 2], inputSeed: 10)

    /// Host values from a seed.
    private func values(_ count: Int, seed: UInt64, std: Float = 1, mean: Float = 0) -> [Float] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in mean + std * g.nextNormal() }
    }

    /// The starting state: the model's own initialisation with random BN affine parameters and
    /// running statistics (so folding and normalizing do real work), and a momentum buffer per parameter.
    private func startingState(_ c: Case) throws -> (state: [String: Tensor], momentum: [String: [Float]]) {
        let net = try ResNetRegistry.make(c.name, c.configure)
        randomizeBatchNorms(net, seed: 100)
        let momentum = Dictionary(uniqueKeysWithValues: net.namedParameters.enumerated().map { i, p in
            (p.name, values(p.tensor.count, seed: 500 + UInt64(i), std: 0.01))
        })
        return (net.stateDict(), momentum)
    }

    /// One step in `context`, from host copies of the state: every tensor the test compares, by
    /// name, and how many elementwise ops the backend ran.
    private func step(_ c: Case, in context: EngineContext, state: [String: Tensor], momentum: [String: [Float]]) throws
        -> (tensors: [(String, [Float])], elementwiseCalls: Int) {
        try context.run {
            let net = try ResNetRegistry.make(c.name, c.configure)
            try net.loadStateDict(state.mapValues { Tensor(shape: $0.shape, values: $0.toArray()) })
            let x = Tensor(shape: c.input, values: values(c.input.reduce(1, *), seed: c.inputSeed))
            XCTAssertEqual(x.device, context.backend.device)
            context.profiler.start()
            var out: [(String, [Float])] = []
            net.eval()
            out.append(("inference logits", GradMode.withoutGradient { net(x) }.toArray()))
            net.train()
            let logits = net(x)
            let loss = crossEntropy(logits, labels: LabelTensor(c.labels))
            out += [("training logits", logits.toArray()), ("loss", loss.toArray())]
            loss.backward()
            let parameters = net.namedParameters
            out += parameters.map { ("gradient of \($0.name)", $0.tensor.grad!.toArray()) }
            let sgd = SGDAttributes(learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
            for (name, p) in parameters {
                let buffer = Tensor(shape: p.shape, values: momentum[name]!)
                Backend.current.sgdUpdate(p, gradient: p.grad!, momentumBuffer: buffer, attributes: sgd)
                out += [("\(name) after the step", p.toArray()), ("momentum of \(name)", buffer.toArray())]
            }
            out += net.namedBuffers.map { ("buffer \($0.name)", $0.tensor.toArray()) }
            context.profiler.stop()
            let elementwise = context.profiler.kinds.filter { $0.kind == .elementwise }.reduce(0) { $0 + $1.calls }
            return (out, elementwise)
        }
    }

    /// Asserts every named tensor of `actual` is within `tolerance` of `expected`'s, relative to its
    /// scale; a failure message ends with `note`.
    private func assertAgree(_ actual: [(String, [Float])], _ expected: [(String, [Float])], tolerance: Double, _ what: String,
                             note: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.map { $0.0 }, expected.map { $0.0 }, file: file, line: line)
        var worst = (error: 0.0, name: "")
        for ((name, a), (_, e)) in zip(actual, expected) {
            XCTAssertEqual(a.count, e.count, "\(what): \(name) sizes", file: file, line: line)
            var difference = 0.0, scale = 0.0
            a.withUnsafeBufferPointer { a in e.withUnsafeBufferPointer { e in
                for i in 0..<min(a.count, e.count) {
                    difference = max(difference, Double(abs(a[i] - e[i])))
                    scale = max(scale, Double(abs(e[i])))
                }
            } }
            XCTAssertLessThanOrEqual(difference, tolerance * scale + 1e-7, "\(what): \(name) differs by \(difference) at scale \(scale)\(note)",
                                     file: file, line: line)
            if difference / max(scale, 1e-30) > worst.error { worst = (difference / max(scale, 1e-30), name) }
        }
        print("\(what): \(actual.count) tensors, largest relative difference \(worst.error) (\(worst.name))")
    }

    private func assertReferenceAgrees(_ c: Case, cpu options: EngineOptions = .default) throws {
        let (state, momentum) = try startingState(c)
        let cpu = try step(c, in: EngineContext(options: options), state: state, momentum: momentum)
        let referenceContext = EngineContext(options: EngineOptions(backend: .reference))
        let reference = try step(c, in: referenceContext, state: state, momentum: momentum)
        let margin = try XCTUnwrap(referenceContext.backend as? ReferenceBackend).kinkMargin.value
        assertAgree(cpu.tensors, reference.tensors, tolerance: 1e-4, "\(c.name), CPU (\(options.activationLayout) layout) against reference",
                    note: "; the reference's inputs came within \(margin) of a ReLU or max-pool branch point (see the class comment)")
        print("\(c.name): smallest relative distance of a ReLU input or max-pool runner-up from its branch point \(margin)")
    }

    func testResNet20AgreesWithTheReferenceBackend() throws { try assertReferenceAgrees(resnet20) }

    /// resnet18 at 64 px: layer4 still sees 2x2 maps. At 32 px (1x1 maps, 3 values per channel for
    /// its batch norms) both layouts differ from the reference by 0.05-0.7% for every input seed
    /// tried (9, 10, 11), in layer4 first: float32 against float64 on batch norms over 3 values.
    func testResNet18AgreesWithTheReferenceBackend() throws { try assertReferenceAgrees(resnet18) }

    func testResNet18InNHWCAgreesWithTheReferenceBackend() throws {
        var options = EngineOptions.default
        options.activationLayout = .nhwc
        try assertReferenceAgrees(resnet18, cpu: options)
    }

    /// Every fusion masked off: the ops compose conv + add + ReLU, BN + ReLU and add + ReLU from core
    /// ops (more elementwise calls), and the step computes what the fused one does.
    func testMaskedCapabilitiesMatchTheFusedCPUBackend() throws {
        for c in [resnet20, resnet18] {
            let (state, momentum) = try startingState(c)
            let fused = try step(c, in: EngineContext(), state: state, momentum: momentum)
            var options = EngineOptions.default
            options.capabilities = []
            let masked = try step(c, in: EngineContext(options: options), state: state, momentum: momentum)
            assertAgree(masked.tensors, fused.tensors, tolerance: 1e-5, "\(c.name), masked against fused")
            XCTAssertGreaterThan(masked.elementwiseCalls, fused.elementwiseCalls, "\(c.name): the fallbacks never ran")
        }
    }
}
