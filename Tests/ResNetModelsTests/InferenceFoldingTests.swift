import XCTest
import ResNetEngine
import ResNetLayers
@testable import ResNetModels

/// Inference folds every batch norm that follows a convolution into it (one oneDNN call with the
/// residual add and ReLU as post-ops). The folded network must give what conv-then-BN gives, and
/// must notice when weights or statistics change.
final class InferenceFoldingTests: XCTestCase {
    /// Folded (no gradient recorded) against unfolded (gradient mode, same eval-mode BN).
    private func assertFoldedMatches(_ net: ResNet, _ x: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let folded = GradMode.withoutGradient { net(x) }.toArray()
        let plain = net(x).toArray()
        let scale = plain.map { abs($0) }.max() ?? 1
        let error = zip(folded, plain).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(error / max(scale, 1e-6), 2e-4, "\(what): folded and conv-then-BN outputs differ", file: file, line: line)
    }

    func testFoldedInferenceMatchesConvThenBatchNormForEveryUnitKind() throws {
        let cases: [(String, Int, (inout ResNetConfig) -> Void)] = [
            ("resnet20", 16, { _ in }),                                 // basic blocks, option-A shortcuts
            ("resnet20", 16, { $0.shortcut = .c }),                     // projection shortcuts everywhere
            ("resnet50", 64, { $0.numClasses = 7 }),                    // bottlenecks, ImageNet stem
            ("resnet_v2_50", 64, { $0.numClasses = 7 }),                // pre-activation: only inner BNs fold
        ]
        for (name, size, configure) in cases {
            let net = try ResNetRegistry.make(name, configure)
            randomizeBatchNorms(net, seed: 3)
            net.eval()
            let x = Tensor.randomNormal([2, size, size, net.config.inputChannels], seed: 9)
            assertFoldedMatches(net, x, name)
        }
    }

    /// In a v1 network every BN is folded away: the folded forward runs no batch-norm primitive.
    func testFoldedV1ForwardRunsNoBatchNorm() throws {
        let net = try ResNetRegistry.make("resnet20")
        net.eval()
        let x = Tensor.randomNormal([2, 16, 16, 3], seed: 1)
        let profiler = EngineContext.current.profiler
        profiler.start()
        _ = GradMode.withoutGradient { net(x) }
        profiler.stop()
        XCTAssertFalse(profiler.kinds.contains { $0.kind == .batchNorm }, "batch norm ran in the folded forward")
        XCTAssertTrue(profiler.kinds.contains { $0.kind == .convolution })
    }

    /// Weights and statistics changed after a folded pass (assign, a write through `withMutableHostValues`,
    /// `loadStateDict`, a training step's running statistics) are picked up by the next one.
    func testFoldCacheFollowsChanges() throws {
        let net = try ResNetRegistry.make("resnet20") { $0.shortcut = .b }
        randomizeBatchNorms(net, seed: 5)
        net.eval()
        let x = Tensor.randomNormal([2, 16, 16, 3], seed: 2)
        let before = GradMode.withoutGradient { net(x) }.toArray()
        let bn = try XCTUnwrap(net.modules.first { $0.path == "layer2.0.bn2" } as? BatchNorm2D)
        bn.runningVar.assign(Tensor(repeating: 4, shape: [bn.channels]))
        assertFoldedMatches(net, x, "after assigning running_var")
        let conv = try XCTUnwrap(net.modules.first { $0.path == "layer1.1.conv1" } as? Conv2D)
        conv.weight.withMutableHostValues { $0[0] += 0.5 }
        assertFoldedMatches(net, x, "after a write through withMutableHostValues")
        let other = try ResNetRegistry.make("resnet20") { $0.shortcut = .b; $0.seed = 42 }
        randomizeBatchNorms(other, seed: 11)
        try net.loadStateDict(other.stateDict())
        assertFoldedMatches(net, x, "after loadStateDict")
        other.eval()
        XCTAssertEqual(GradMode.withoutGradient { net(x) }.toArray(), GradMode.withoutGradient { other(x) }.toArray())
        net.train()
        _ = net(x)   // updates every running statistic
        net.eval()
        assertFoldedMatches(net, x, "after a training-mode pass")
        XCTAssertNotEqual(GradMode.withoutGradient { net(x) }.toArray(), before)
    }

    /// Training runs each BN-ReLU joined to the next convolution with its output recomputed in
    /// backward, and recomputes cheap convolutions' outputs too; whatever is recomputed, the
    /// gradients must be those of the same unit written out layer by layer.
    func testTrainingChainGradientsMatchLayerByLayer() throws {
        for fanIn in [0, 128, Int.max] {
            try EngineContext(options: EngineOptions(recomputeFanIn: fanIn)).run {
                try assertTrainingChainGradientsMatchLayerByLayer("fan-in \(fanIn)")
            }
        }
    }

    private func assertTrainingChainGradientsMatchLayerByLayer(_ what: String) throws {
        for name in ["resnet50", "resnet_v2_50", "resnet20"] {
            let net = try ResNetRegistry.make(name) { $0.shortcut = name == "resnet20" ? .b : $0.shortcut }
            let unit = try XCTUnwrap(net.modules.first { $0.path == "layer2.0" })  // a unit with a projection shortcut
            net.train()
            let channels = try XCTUnwrap(unit.namedParameters.first { $0.name.hasSuffix("conv1.weight") }).tensor.shape[1]
            let x = Tensor.randomNormal([2, 9, 9, channels], seed: 4)
            let r = Tensor.randomNormal((unit as! any ResidualUnit)(x).shape, seed: 5)
            func gradients(_ forward: () -> Tensor) -> [[Float]] {
                for p in unit.namedParameters { p.tensor.zeroGradient() }
                sum(multiply(forward(), r)).backward()
                return unit.namedParameters.map { $0.tensor.grad?.toArray() ?? [] }
            }
            let chained = gradients { (unit as! any ResidualUnit)(x) }
            let layered = gradients { layerByLayer(unit, x) }
            for (i, (a, b)) in zip(chained, layered).enumerated() {
                let scale = b.map { abs($0) }.max() ?? 1
                let error = zip(a, b).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(error / max(scale, 1e-6), 1e-3, "\(what): \(name) \(unit.namedParameters[i].name)")
                XCTAssertFalse(a.isEmpty, "\(what): \(name) \(unit.namedParameters[i].name) got no gradient")
            }
        }
    }

    /// The unit's forward written with plain layer calls only (no chain).
    private func layerByLayer(_ unit: Module, _ x: Tensor) -> Tensor {
        switch unit {
        case let u as Bottleneck:
            let h = u.bn2(u.conv2(u.bn1(u.conv1(x), relu: true)), relu: true)
            return addReLU(u.bn3(u.conv3(h)), u.shortcut(x, owner: u))
        case let u as BasicBlock:
            return addReLU(u.bn2(u.conv2(u.bn1(u.conv1(x), relu: true))), u.shortcut(x, owner: u))
        case let u as PreActBottleneck:
            let pre = u.preact(x, relu: true)
            let shortcut = u.projection.map { $0(pre) } ?? x
            return u.conv3(u.bn2(u.conv2(u.bn1(u.conv1(pre), relu: true)), relu: true), residual: shortcut)
        default:
            XCTFail("unknown unit \(type(of: unit))")
            return x
        }
    }
}
