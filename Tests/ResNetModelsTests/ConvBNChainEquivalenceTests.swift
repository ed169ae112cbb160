import XCTest
import ResNetEngine
@testable import ResNetLayers
@testable import ResNetModels

/// The blocks as sequences of conv-BN units must run exactly what the previous `convChain` ran
/// (`LegacyConvChain`): bit-identical outputs, gradients and running statistics, the same
/// primitives as many times each, and so the same recompute choices under every `recomputeFanIn`.
final class ConvBNChainEquivalenceTests: XCTestCase {
    /// Every unit kind and shortcut option: basic with A and B, bottleneck (v1.5 and grouped), pre-activation.
    private let models: [(String, (inout ResNetConfig) -> Void)] = [
        ("resnet20", { _ in }),
        ("resnet18", { $0.numClasses = 5; $0.stageWidths = [16, 32, 64, 128] }),
        ("resnet50", { $0.numClasses = 5; $0.stageDepths = [2, 1, 1, 1]; $0.stageWidths = [16, 32, 64, 128] }),
        ("resnext50_32x4d", { $0.numClasses = 5; $0.stageDepths = [1, 1, 1, 1]; $0.stageWidths = [16, 32, 64, 128] }),
        ("resnet_v2_50", { $0.numClasses = 5; $0.stageDepths = [2, 2, 1, 1]; $0.stageWidths = [16, 32, 64, 128] }),
    ]

    /// What one pass leaves behind: output, every gradient, every buffer, and what the engine ran.
    private struct Run: Equatable {
        var output: [UInt32]
        var gradients: [String: [UInt32]]
        var buffers: [String: [UInt32]]
        var kinds: [String: Int]
        var primitives: [String: Int]
    }

    private func bits(_ t: Tensor) -> [UInt32] { t.toArray().map(\.bitPattern) }

    /// Builds the model, sets it up with `prepare`, runs `forward` (and backward when recording)
    /// under a profiling context with `options`.
    private func run(_ name: String, _ configure: (inout ResNetConfig) -> Void, options: EngineOptions, grad: Bool,
                     prepare: (ResNet) -> Void, _ forward: (ResNet, Tensor) -> Tensor) throws -> Run {
        let context = EngineContext(options: options)
        return try context.run {
            let net = try ResNetRegistry.make(name, configure)
            randomizeBatchNorms(net)
            prepare(net)
            let x = Tensor.randomNormal([2, 16, 16, 3], seed: 3)
            context.profiler.start()
            let y: Tensor
            if grad {
                y = forward(net, x)
                sum(multiply(y, Tensor.randomNormal(y.shape, seed: 4))).backward()
            } else {
                y = GradMode.withoutGradient { forward(net, x) }
            }
            context.profiler.stop()
            return Run(output: bits(y),
                       gradients: Dictionary(uniqueKeysWithValues: net.namedParameters.map { ($0.name, $0.tensor.grad.map(bits) ?? []) }),
                       buffers: Dictionary(uniqueKeysWithValues: net.namedBuffers.map { ($0.name, bits($0.tensor)) }),
                       kinds: Dictionary(context.profiler.kinds.map { ("\($0.kind) \($0.pass.map(\.rawValue) ?? "-")", $0.calls) }, uniquingKeysWith: +),
                       primitives: Dictionary(context.profiler.primitives.map { ("\($0.primitive.map(String.init(describing:)) ?? "-")", $0.calls) },
                                              uniquingKeysWith: +))
        }
    }

    private func assertSame(_ name: String, _ configure: @escaping (inout ResNetConfig) -> Void, options: EngineOptions, grad: Bool,
                            _ what: String, prepare: @escaping (ResNet) -> Void, file: StaticString = #filePath, line: UInt = #line) throws {
        let blocks = try run(name, configure, options: options, grad: grad, prepare: prepare) { $0($1) }
        let legacy = try run(name, configure, options: options, grad: grad, prepare: prepare) { LegacyConvChain.forward($0, $1) }
        let label = "\(name), \(what), recomputeFanIn \(options.recomputeFanIn)"
        XCTAssertEqual(blocks.output, legacy.output, "\(label): outputs differ", file: file, line: line)
        for (key, g) in legacy.gradients { XCTAssertEqual(blocks.gradients[key], g, "\(label): gradient of \(key) differs", file: file, line: line) }
        for (key, b) in legacy.buffers { XCTAssertEqual(blocks.buffers[key], b, "\(label): buffer \(key) differs", file: file, line: line) }
        XCTAssertEqual(blocks.kinds, legacy.kinds, "\(label): op counts differ", file: file, line: line)
        XCTAssertEqual(blocks.primitives, legacy.primitives, "\(label): primitives run differ", file: file, line: line)
        XCTAssertFalse(legacy.output.isEmpty)
    }

    /// Training (fused links, recompute per fan-in): outputs, gradients, running statistics, primitives.
    func testTrainingMatchesLegacyChainBitForBit() throws {
        for fanIn in [0, 128, Int.max] {
            for (name, configure) in models {
                try assertSame(name, configure, options: EngineOptions(recomputeFanIn: fanIn), grad: true, "training") { $0.train() }
            }
        }
    }

    /// Inference without gradient (every BN folded into its convolution).
    func testFoldedInferenceMatchesLegacyChainBitForBit() throws {
        for (name, configure) in models {
            try assertSame(name, configure, options: EngineOptions(), grad: false, "folded inference") { $0.eval() }
        }
    }

    /// Layer by layer: evaluation with gradients (saliency), and training with frozen batch norms (fine-tuning).
    func testLayerByLayerMatchesLegacyChainBitForBit() throws {
        for (name, configure) in models {
            try assertSame(name, configure, options: EngineOptions(), grad: true, "eval with gradients") { $0.eval() }
            try assertSame(name, configure, options: EngineOptions(), grad: true, "frozen batch norms") { net in
                net.train()
                for case let bn as BatchNorm2D in net.modules { bn.freeze() }
            }
        }
    }

    /// `resnet summary` traces layer by layer: every entry the same as the legacy chain recorded.
    func testSummaryTraceMatchesLegacyChain() throws {
        for (name, configure) in models {
            let net = try ResNetRegistry.make(name, configure)
            net.eval()
            let input = Tensor(zeros: [1, 32, 32, 3])
            let blocks = LayerTrace.capture(input) { net($0) }
            let legacy = LayerTrace.capture(input) { LegacyConvChain.forward(net, $0) }
            XCTAssertEqual(blocks.map(describe), legacy.map(describe), name)
            XCTAssertGreaterThan(legacy.count, 10)
        }
    }

    private func describe(_ e: LayerTrace.Entry) -> String {
        "\(e.name) \(e.type) \(e.outputShape) \(e.trainableParameters) \(e.nonTrainableParameters) \(e.flops) \(e.inputs)"
    }
}
