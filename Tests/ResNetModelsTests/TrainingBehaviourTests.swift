import XCTest
import ResNetEngine
import ResNetLayers
import ResNetModels

/// Models that learn, batch norms that freeze, states that load.
final class TrainingBehaviourTests: XCTestCase {
    /// Plain SGD with momentum, written out here so the test depends on nothing but the model.
    private func sgdStep(_ params: [(name: String, tensor: Tensor)], _ velocity: inout [String: [Float]], lr: Float, momentum: Float) {
        for (name, p) in params {
            guard let g = p.grad else { continue }
            var v = velocity[name] ?? [Float](repeating: 0, count: p.count)
            p.withMutableHostValues { p in g.withHostValues { g in
                for i in p.indices {
                    v[i] = momentum * v[i] + g[i]
                    p[i] -= lr * v[i]
                }
            } }
            velocity[name] = v
            p.zeroGradient()
        }
    }

    /// resnet20 memorises one fixed batch of 16 random images with random labels: the loss starts
    /// near ln(10) and falls below 0.05 within 60 steps.
    func testResNet20OverfitsOneBatch() throws {
        let net = try ResNetRegistry.make("resnet20") { $0.seed = 7 }
        net.train()
        let x = Tensor.randomNormal([16, 32, 32, 3], seed: 11)
        var g = SeededGenerator(seed: 5)
        let labels = LabelTensor((0..<16).map { _ in Int32(g.next() % 10) })
        var velocity: [String: [Float]] = [:]
        var first: Float = 0, last: Float = .infinity
        var step = 0
        while step < 60 && last >= 0.05 {
            let loss = crossEntropy(net(x), labels: labels)
            if step == 0 { first = loss.scalar }
            last = loss.scalar
            loss.backward()
            sgdStep(net.namedParameters, &velocity, lr: 0.05, momentum: 0.9)
            step += 1
        }
        XCTAssertGreaterThan(first, 1.5, "an untrained 10-way classifier starts near ln(10) = 2.3")
        XCTAssertLessThan(last, 0.05, "loss after \(step) steps")
    }

    func testFrozenBatchNormKeepsRunningStatisticsAndPassesGradients() throws {
        let bn = BatchNorm2D(4)
        bn.runningMean.assign(Tensor(shape: [4], values: [0.5, -1, 2, 0]))
        bn.runningVar.assign(Tensor(shape: [4], values: [1, 2, 0.5, 4]))
        bn.freeze()
        bn.train()
        let before = bn.runningMean.toArray() + bn.runningVar.toArray()
        let x = Tensor.randomNormal([2, 3, 3, 4], seed: 3)
        x.requiresGrad = true
        let y = bn(x)
        sum(y * 2).backward()
        XCTAssertEqual(bn.runningMean.toArray() + bn.runningVar.toArray(), before)
        XCTAssertEqual(bn.numBatchesTracked.scalar, 0)
        XCTAssertNil(bn.weight?.grad, "a frozen batch norm learns nothing")
        // y = (x - mean) / sqrt(var + eps): dy/dx = 1 / sqrt(var + eps) per channel, times 2 from the loss.
        let expected = [Float(1), 2, 0.5, 4].map { 2 / ($0 + 1e-5).squareRoot() }
        for (i, v) in x.grad!.toArray().enumerated() { XCTAssertEqual(v, expected[i % 4], accuracy: 1e-4) }
        // Unfrozen, training mode moves the statistics.
        bn.freeze(false)
        _ = bn(x)
        XCTAssertNotEqual(bn.runningMean.toArray(), Array(before.prefix(4)))
        XCTAssertEqual(bn.numBatchesTracked.scalar, 1)
    }

    func testStateDictRoundTripAndErrors() throws {
        let a = try ResNetRegistry.make("resnet20") { $0.seed = 1 }
        let b = try ResNetRegistry.make("resnet20") { $0.seed = 2 }
        XCTAssertNotEqual(a.stateDict()["conv1.weight"]!.toArray(), b.stateDict()["conv1.weight"]!.toArray())
        try b.loadStateDict(a.stateDict())
        for name in a.stateNames { XCTAssertEqual(a.stateDict()[name]!.toArray(), b.stateDict()[name]!.toArray(), name) }

        var missing = a.stateDict()
        missing["layer2.0.bn1.running_var"] = nil
        XCTAssertThrowsError(try b.loadStateDict(missing)) { XCTAssertEqual($0 as? StateError, .missingKey("layer2.0.bn1.running_var")) }
        var wrong = a.stateDict()
        wrong["fc.weight"] = Tensor(zeros: [5, 64])
        XCTAssertThrowsError(try b.loadStateDict(wrong)) {
            XCTAssertEqual($0 as? StateError, .shapeMismatch(key: "fc.weight", expected: [10, 64], found: [5, 64]))
        }
        // Checked before copied: the refused state changed nothing, not even the keys before fc.weight.
        let c = try ResNetRegistry.make("resnet20") { $0.seed = 3 }
        let before = c.stateDict()["conv1.weight"]!.toArray()
        XCTAssertThrowsError(try c.loadStateDict(wrong))
        XCTAssertEqual(c.stateDict()["conv1.weight"]!.toArray(), before)
    }

    func testZeroInitResidualStartsUnitsAsIdentity() throws {
        let net = try ResNetRegistry.make("resnet50") { $0.zeroInitResidual = true }
        let state = net.stateDict()
        XCTAssertEqual(Set(state["layer3.4.bn3.weight"]!.toArray()), [0])
        XCTAssertEqual(Set(state["layer3.4.bn2.weight"]!.toArray()), [1])
    }
}
