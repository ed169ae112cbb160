import XCTest
import ResNetEngine
import ResNetLayers
@testable import ResNetModels

/// ResNeXt (Xie et al. 2017) and Wide ResNet (Zagoruyko & Komodakis 2016) as torchvision builds them:
/// counts, key names and shapes, FLOPs, and a grouped network that trains and infers exactly as the
/// dense network whose 3x3 weights are block-diagonal (what a grouped convolution is).
final class ResNeXtTests: XCTestCase {
    private func count(_ n: ResNet) -> Int { n.namedParameters.reduce(0) { $0 + $1.tensor.count } }

    func testTrainableCountsMatchTorchvision() throws {
        let expected = ["resnext50_32x4d": 25_028_904, "resnext101_32x8d": 88_791_336, "resnext101_64x4d": 83_455_272,
                        "wide_resnet50_2": 68_883_240, "wide_resnet101_2": 126_886_696]
        for (name, n) in expected {
            XCTAssertEqual(count(try ResNetRegistry.make(name)), n, name)
        }
    }

    func testKeyNamesAndShapesAreTorchvisions() throws {
        let resnext = try ResNetRegistry.make("resnext50_32x4d").stateDict()
        XCTAssertEqual(try ResNetRegistry.make("resnext50_32x4d").stateNames, try ResNetRegistry.make("resnet50").stateNames)
        XCTAssertEqual(resnext["layer1.0.conv1.weight"]?.shape, [128, 64, 1, 1])
        XCTAssertEqual(resnext["layer1.0.conv2.weight"]?.shape, [128, 4, 3, 3])
        XCTAssertEqual(resnext["layer1.0.conv3.weight"]?.shape, [256, 128, 1, 1])
        XCTAssertEqual(resnext["layer1.0.bn2.running_var"]?.shape, [128])
        XCTAssertEqual(resnext["layer1.0.downsample.0.weight"]?.shape, [256, 64, 1, 1])
        XCTAssertEqual(resnext["layer4.2.conv2.weight"]?.shape, [1024, 32, 3, 3])
        XCTAssertEqual(resnext["fc.weight"]?.shape, [1000, 2048])
        let wide = try ResNetRegistry.make("wide_resnet50_2").stateDict()
        XCTAssertEqual(wide["layer1.0.conv2.weight"]?.shape, [128, 128, 3, 3])
        XCTAssertEqual(wide["layer1.0.conv3.weight"]?.shape, [256, 128, 1, 1])
        XCTAssertEqual(wide["layer4.0.conv2.weight"]?.shape, [1024, 1024, 3, 3])
        let r64 = try ResNetRegistry.make("resnext101_64x4d").stateDict()
        XCTAssertEqual(r64["layer1.0.conv2.weight"]?.shape, [256, 4, 3, 3])
        XCTAssertEqual(r64["layer3.22.conv3.weight"]?.shape, [1024, 1024, 1, 1])
        let r32 = try ResNetRegistry.make("resnext101_32x8d").stateDict()
        XCTAssertEqual(r32["layer1.0.conv2.weight"]?.shape, [256, 8, 3, 3])
    }

    /// torchvision's GFLOPS (multiply-adds) per 224x224 image: a grouped convolution does 1/groups of them.
    func testFLOPsCountGroups() throws {
        XCTAssertEqual(Double(try ResNetRegistry.make("resnext50_32x4d").summary(imageSize: 224).flops) / 2e9, 4.23, accuracy: 0.05)
        XCTAssertEqual(Double(try ResNetRegistry.make("wide_resnet50_2").summary(imageSize: 224).flops) / 2e9, 11.4, accuracy: 0.1)
    }

    func testResNeXt50ForwardBackwardSmoke() throws {
        let net = try ResNetRegistry.make("resnext50_32x4d")
        net.train()
        let x = Tensor.randomNormal([2, 32, 32, 3], seed: 1)
        let logits = net(x)
        XCTAssertEqual(logits.shape, [2, 1000])
        XCTAssertTrue(logits.toArray().allSatisfy { $0.isFinite })
        crossEntropy(logits, labels: LabelTensor([3, 7])).backward()
        let w = try XCTUnwrap(net.namedParameters.first { $0.name == "layer1.0.conv2.weight" }?.tensor)
        let g = try XCTUnwrap(w.grad)
        XCTAssertEqual(g.shape, [128, 4, 3, 3])
        XCTAssertTrue(g.toArray().allSatisfy { $0.isFinite })
        XCTAssertTrue(g.toArray().contains { $0 != 0 })
        XCTAssertTrue(net.namedParameters.allSatisfy { $0.tensor.grad != nil }, "every parameter should get a gradient")
    }

    private func tiny(groups: Int, widthPerGroup: Int) throws -> ResNet {
        try ResNet(ResNetConfig(name: "tiny", version: .v1, block: .bottleneck, stageDepths: [1, 2], stageWidths: [8, 16],
                                groups: groups, widthPerGroup: widthPerGroup, stem: .cifar, numClasses: 5, seed: 3))
    }

    /// A grouped model and a dense one with the grouped weights copied and the 3x3 weights laid out
    /// block-diagonally: the same function. Inner widths 8 and 16 in 4 groups of 2 and 4 channels.
    private func twins() throws -> (grouped: ResNet, dense: ResNet) {
        let grouped = try tiny(groups: 4, widthPerGroup: 16), dense = try tiny(groups: 1, widthPerGroup: 64)
        let source = grouped.stateDict(), target = dense.stateDict()
        XCTAssertEqual(Set(source.keys), Set(target.keys))
        for (name, s) in source {
            let t = try XCTUnwrap(target[name])
            guard s.shape != t.shape else { t.assign(s); continue }
            XCTAssertTrue(name.hasSuffix("conv2.weight"), name)
            let (o, cg, kk) = (s.shape[0], s.shape[1], 9), perGroup = s.shape[0] / 4
            XCTAssertEqual(t.shape, [o, cg * 4, 3, 3])
            t.assign(Tensor(zeros: t.shape))
            t.withMutableHostValues { tv in s.withHostValues { sv in
                for f in 0..<o {
                    for c in 0..<cg {
                        let denseRow: Int = (f * cg * 4 + (f / perGroup) * cg + c) * kk, groupedRow: Int = (f * cg + c) * kk
                        for k in 0..<kk { tv[denseRow + k] = sv[groupedRow + k] }
                    }
                }
            } }
        }
        return (grouped, dense)
    }

    private func assertClose(_ a: [Float], _ b: [Float], _ what: String, tolerance: Float = 1e-3, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let scale = max(b.map { abs($0) }.max() ?? 0, 1e-6)
        let error = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(error / scale, tolerance, "\(what): relative error \(error / scale)", file: file, line: line)
    }

    /// One training step (fused training links with recomputation, batch statistics): the same
    /// loss, the same gradients (the dense 3x3's on its diagonal blocks) and the same running statistics.
    func testGroupedTrainingStepMatchesBlockDiagonalDenseModel() throws {
        let (grouped, dense) = try twins()
        let x = Tensor.randomNormal([4, 8, 8, 3], seed: 5), labels = LabelTensor([0, 4, 2, 1])
        var losses: [Float] = []
        for net in [grouped, dense] {
            net.train()
            let loss = crossEntropy(net(x), labels: labels)
            losses.append(loss.scalar)
            loss.backward()
        }
        XCTAssertEqual(losses[0], losses[1], accuracy: 1e-4 * max(1, abs(losses[1])))
        let denseParameters = Dictionary(uniqueKeysWithValues: dense.namedParameters.map { ($0.name, $0.tensor) })
        for (name, p) in grouped.namedParameters {
            let g = try XCTUnwrap(p.grad, name), d = try XCTUnwrap(denseParameters[name]?.grad, name)
            guard g.shape != d.shape else { assertClose(g.toArray(), d.toArray(), "gradient of \(name)"); continue }
            let (cg, perGroup) = (g.shape[1], g.shape[0] / 4)
            var diagonal: [Float] = []
            let dValues = d.toArray()
            for f in 0..<g.shape[0] {
                for c in 0..<cg {
                    let row: Int = (f * cg * 4 + (f / perGroup) * cg + c) * 9
                    for k in 0..<9 { diagonal.append(dValues[row + k]) }
                }
            }
            assertClose(g.toArray(), diagonal, "gradient of \(name) on the diagonal blocks")
        }
        let denseBuffers = Dictionary(uniqueKeysWithValues: dense.namedBuffers.map { ($0.name, $0.tensor) })
        for (name, b) in grouped.namedBuffers { assertClose(b.toArray(), try XCTUnwrap(denseBuffers[name]).toArray(), name) }
    }

    /// Inference folds each batch norm into its grouped convolution: the same logits as the dense twin.
    func testGroupedFoldedInferenceMatchesBlockDiagonalDenseModel() throws {
        let (grouped, dense) = try twins()
        for bn in grouped.modules.compactMap({ $0 as? BatchNorm2D }) {
            bn.runningMean.assign(Tensor.randomNormal([bn.channels], std: 0.3, seed: UInt64(bn.channels)))
            bn.runningVar.assign(Tensor.randomUniform([bn.channels], low: 0.5, high: 2, seed: UInt64(bn.channels + 1)))
        }
        for (name, b) in grouped.namedBuffers { dense.namedBuffers.first { $0.name == name }?.tensor.assign(b) }
        grouped.eval(); dense.eval()
        let x = Tensor.randomNormal([2, 9, 7, 3], seed: 8)
        let expected = GradMode.withoutGradient { dense(x) }.toArray()
        assertClose(GradMode.withoutGradient { grouped(x) }.toArray(), expected, "folded logits")
        assertClose(grouped(x).toArray(), expected, "conv-then-batch-norm logits")
    }

    func testConfigDecodesCheckpointsWithoutGroups() throws {
        let config = try ResNetRegistry.config("resnext50_32x4d")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any])
        XCTAssertEqual(json["groups"] as? Int, 32)
        XCTAssertEqual(json["widthPerGroup"] as? Int, 4)
        XCTAssertEqual(try JSONDecoder().decode(ResNetConfig.self, from: JSONEncoder().encode(config)), config)
        json["groups"] = nil; json["widthPerGroup"] = nil
        let old = try JSONDecoder().decode(ResNetConfig.self, from: JSONSerialization.data(withJSONObject: json))
        XCTAssertEqual(old.groups, 1)
        XCTAssertEqual(old.widthPerGroup, 64)
        XCTAssertEqual(old.innerWidth(stage: 0), 64)
    }

    func testValidationNamesGroupLimits() throws {
        func message(_ model: String = "resnext50_32x4d", _ change: (inout ResNetConfig) -> Void) throws -> String? {
            var c = try ResNetRegistry.config(model)
            change(&c)
            do { try c.validate(); return nil } catch let e as ConfigError { return e.description }
        }
        let prefix = "invalid model configuration: "
        XCTAssertEqual(try message { $0.groups = 0 }, prefix + "groups must be between 1 and 1024 (got 0)")
        XCTAssertEqual(try message { $0.groups = 5000 }, prefix + "groups must be between 1 and 1024 (got 5000)")
        XCTAssertEqual(try message { $0.widthPerGroup = -4 }, prefix + "widthPerGroup must be between 1 and 16384 (got -4)")
        XCTAssertEqual(try message { $0.widthPerGroup = 1; $0.stageWidths = [32, 128, 256, 512] }, prefix
            + "the inner width of stage 1, stageWidths 32 x widthPerGroup 1 / 64 x groups 32 = 0, must be a positive multiple of groups and at most 16384")
        XCTAssertEqual(try message { $0.widthPerGroup = 16384; $0.groups = 64 }, prefix
            + "the inner width of stage 1, stageWidths 64 x widthPerGroup 16384 / 64 x groups 64 = 1048576, must be a positive multiple of groups and at most 16384")
        XCTAssertEqual(try message("resnet18") { $0.groups = 2 }, prefix
            + "groups and widthPerGroup apply only to v1 bottleneck blocks (got groups 2, widthPerGroup 64 with v1 basic blocks)")
        XCTAssertEqual(try message("resnet_v2_50") { $0.widthPerGroup = 128 }, prefix
            + "groups and widthPerGroup apply only to v1 bottleneck blocks (got groups 1, widthPerGroup 128 with v2 bottleneck blocks)")
    }
}
