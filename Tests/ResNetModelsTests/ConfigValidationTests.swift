import Foundation
import XCTest
import ResNetEngine
import ResNetModels

/// A configuration can come from a user's checkpoint.json or CLI options: every field is checked,
/// with the limit in the message, before `ResNet(_:)` allocates a parameter.
final class ConfigValidationTests: XCTestCase {
    private func message(_ change: (inout ResNetConfig) -> Void, model: String = "resnet50") throws -> String? {
        var c = try ResNetRegistry.config(model)
        change(&c)
        do { try c.validate() } catch let e as ConfigError { return e.description }
        return nil
    }

    func testEveryFieldIsBoundedAndTheMessageSaysTheLimit() throws {
        let prefix = "invalid model configuration: "
        XCTAssertEqual(try message { $0.stageWidths = [-64, 128, 256, 512] }, prefix + "stageWidths must each be between 1 and 16384 (got -64)")
        XCTAssertEqual(try message { $0.stageWidths = [64, 128, 256, 100_000] }, prefix + "stageWidths must each be between 1 and 16384 (got 100000)")
        XCTAssertEqual(try message { $0.stageDepths = [3, 0, 6, 3] }, prefix + "stageDepths must each be between 1 and 1000 (got 0)")
        XCTAssertEqual(try message { $0.stageDepths = [3, 4, 1_000_000, 3] }, prefix + "stageDepths must each be between 1 and 1000 (got 1000000)")
        XCTAssertEqual(try message { $0.numClasses = 1_000_000_000 }, prefix + "numClasses must be between 1 and 100000 (got 1000000000)")
        XCTAssertEqual(try message { $0.numClasses = 0 }, prefix + "numClasses must be between 1 and 100000 (got 0)")
        XCTAssertEqual(try message { $0.inputChannels = 1_000_000_000 }, prefix + "inputChannels must be between 1 and 64 (got 1000000000)")
        XCTAssertEqual(try message { $0.batchNormEpsilon = -1 }, prefix + "batchNormEpsilon must be positive and finite (got -1.0)")
        XCTAssertEqual(try message { $0.batchNormEpsilon = .nan }, prefix + "batchNormEpsilon must be positive and finite (got nan)")
        XCTAssertEqual(try message { $0.batchNormMomentum = 2 }, prefix + "batchNormMomentum must be between 0 and 1 (got 2.0)")
        XCTAssertEqual(try message { $0.batchNormMomentum = .infinity }, prefix + "batchNormMomentum must be between 0 and 1 (got inf)")
        XCTAssertEqual(try message { $0.name = "" }, prefix + "name must not be empty")
        XCTAssertEqual(try message { $0.stageDepths = Array(repeating: 1, count: 9); $0.stageWidths = Array(repeating: 8, count: 9) },
                       prefix + "stageDepths [1, 1, 1, 1, 1, 1, 1, 1, 1] and stageWidths [8, 8, 8, 8, 8, 8, 8, 8, 8] must be non-empty, of equal length and at most 8 stages")
        // Each width within bounds, but together 4 GB of weights.
        XCTAssertEqual(try message { $0.stageWidths = [4096, 4096, 4096, 4096] },
                       prefix + "5319304384 weights are above the limit 1000000000 (stageWidths [4096, 4096, 4096, 4096], stageDepths [3, 4, 6, 3])")
        // Option A pads channels with zeros; it cannot drop them.
        XCTAssertEqual(try message({ $0.shortcut = .a; $0.stageWidths = [64, 32, 256, 512] }, model: "resnet18"),
                       prefix + "shortcut a cannot reduce channels from 64 to 32: stageWidths must not shrink (use shortcut b)")
        for name in ResNetRegistry.names { XCTAssertNil(try message({ _ in }, model: name), name) }
    }

    func testWeightCountBoundsTheRealParameterCount() throws {
        // The estimate counts weights only (plus a projection per stage), so it stays within a few
        // percent of the real count and never lets a much larger model through.
        for name in ["resnet18", "resnet50", "resnet_v2_50", "resnet20"] {
            let net = try ResNetRegistry.make(name)
            let real = net.namedParameters.reduce(0) { $0 + $1.tensor.count }
            let estimate = net.config.estimatedWeightCount
            XCTAssertGreaterThan(Double(estimate), 0.98 * Double(real), name)
            XCTAssertLessThan(Double(estimate), 1.05 * Double(real), name)
        }
    }

    func testResNetRefusesAHostileCheckpointConfigBeforeAllocating() throws {
        // checkpoint.json's modelConfig, edited by hand.
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(try ResNetRegistry.config("resnet50"))) as! [String: Any]
        json["stageWidths"] = [-64, -128, -256, -512]
        let config = try JSONDecoder().decode(ResNetConfig.self, from: JSONSerialization.data(withJSONObject: json))
        let before = EngineContext.current.memory.liveBytes
        XCTAssertThrowsError(try ResNet(config)) {
            XCTAssertEqual($0 as? ConfigError, .invalid("stageWidths must each be between 1 and 16384 (got -64)"))
        }
        var huge = try ResNetRegistry.config("resnet18")
        huge.numClasses = 1_000_000_000
        XCTAssertThrowsError(try ResNet(huge)) {
            XCTAssertEqual($0 as? ConfigError, .invalid("numClasses must be between 1 and 100000 (got 1000000000)"))
        }
        XCTAssertEqual(EngineContext.current.memory.liveBytes, before, "nothing allocated for a refused configuration")
    }

    func testInputSizeLimitsNameTheModelAndTheLimit() throws {
        let resnet50 = try ResNetRegistry.config("resnet50")
        func message(_ h: Int, _ w: Int? = nil, batch: Int = 1, _ c: ResNetConfig? = nil) -> String? {
            do { try (c ?? resnet50).validateInput(height: h, width: w ?? h, batchSize: batch) } catch let e as ConfigError { return e.description } catch { return "\(error)" }
            return nil
        }
        let prefix = "invalid input: "
        XCTAssertEqual(message(100_000), prefix + "image size 100000 is above the limit 1024 for resnet50")
        XCTAssertEqual(message(2_147_483_648), prefix + "image size 2147483648 is above the limit 1024 for resnet50")
        XCTAssertEqual(message(4_611_686_018_427_387_904), prefix + "image size 4611686018427387904 is above the limit 1024 for resnet50")
        XCTAssertEqual(message(224, 5000), prefix + "image size 5000 is above the limit 1024 for resnet50")
        XCTAssertEqual(message(0), prefix + "image size 0 is below the minimum 1 for resnet50")
        XCTAssertEqual(message(-3), prefix + "image size -3 is below the minimum 1 for resnet50")
        XCTAssertEqual(message(224, batch: 0), prefix + "batch size 0 must be between 1 and 4096")
        XCTAssertEqual(message(224, batch: 100_000), prefix + "batch size 100000 must be between 1 and 4096")
        // Each number within its bound, but the stem's output alone would be 13 GB.
        XCTAssertEqual(message(224, batch: 4096),
                       prefix + "batch 4096 of 224x224 images needs an activation of 3288334336 values in resnet50, above the limit 2147483648")
        XCTAssertNil(message(224, batch: 256))
        XCTAssertNil(message(1024))
        XCTAssertEqual(message(1025), prefix + "image size 1025 is above the limit 1024 for resnet50")
        XCTAssertNil(message(1))
        XCTAssertEqual((try? resnet50.validateInput(shape: [2, 224, 224, 3])).map { "ok" }, "ok")
        XCTAssertThrowsError(try resnet50.validateInput(shape: [2, 224, 224, 1])) {
            XCTAssertEqual($0 as? ConfigError, .invalidInput("resnet50 expects 3 input channel(s), got 1 (shape [2, 224, 224, 1])"))
        }
        XCTAssertThrowsError(try resnet50.validateInput(shape: [224, 224, 3])) {
            XCTAssertEqual($0 as? ConfigError, .invalidInput("resnet50 expects NHWC input [batch, height, width, 3], got shape [224, 224, 3]"))
        }
        XCTAssertThrowsError(try resnet50.validateInput(shape: [8, 9000, 224, 3])) {
            XCTAssertEqual($0 as? ConfigError, .invalidInput("image size 9000 is above the limit 1024 for resnet50"))
        }
        var bad = resnet50
        bad.inputChannels = 0
        XCTAssertEqual(message(224, nil, batch: 1, bad), "invalid model configuration: inputChannels must be between 1 and 64 (got 0)")
    }

    func testCheckedSummaryThrowsForSizesOutsideTheLimits() throws {
        let net = try ResNetRegistry.make("resnet20")
        XCTAssertThrowsError(try net.checkedSummary(imageSize: 100_000)) {
            XCTAssertEqual($0 as? ConfigError, .invalidInput("image size 100000 is above the limit 1024 for resnet20"))
        }
        XCTAssertEqual(try net.checkedSummary(imageSize: 32).layers.last?.outputShape, [10])
    }

    /// The smallest size is worked out from the strides: every window is padded so that it outputs
    /// ceil(input / stride), so a 1-pixel image keeps a 1x1 map to the end. Run it to be sure, on
    /// every stem, block kind, shortcut, stride placement and an atrous configuration, in inference
    /// and in a training step.
    func testEveryKindOfNetworkRunsOnTheSmallestInput() throws {
        XCTAssertEqual(ResNetConfig.minInputSize, 1)
        let configs: [(String, (inout ResNetConfig) -> Void)] = [
            ("resnet18", { _ in }), ("resnet50", { $0.strideIn = .conv1x1; $0.outputStride = 8 }),
            ("resnet_v2_50", { $0.outputStride = 16 }), ("resnet20", { $0.shortcut = .c; $0.inputChannels = 1 }),
        ]
        for (name, change) in configs {
            var c = try ResNetRegistry.config(name)
            change(&c)
            c.stageDepths = c.stageDepths.map { min($0, 2) }
            c.stageWidths = c.stageWidths.map { $0 / 4 }
            let net = try ResNet(c)
            for size in [1, 2] {
                try c.validateInput(height: size, width: size, batchSize: 2)
                XCTAssertEqual(c.outputSize(height: size, width: size).height, 1, "\(name) at \(size)")
                let x = Tensor.randomUniform([2, size, size, c.inputChannels], seed: 1)
                net.eval()
                let y = GradMode.withoutGradient { net(x) }
                XCTAssertEqual(y.shape, [2, c.numClasses!], "\(name) at \(size)")
                XCTAssertTrue(y.toArray().allSatisfy(\.isFinite), "\(name) at \(size)")
            }
            net.train()
            crossEntropy(net(Tensor.randomUniform([2, 1, 1, c.inputChannels], seed: 1)), labels: LabelTensor([0, 1])).backward()
            XCTAssertTrue(net.namedParameters.allSatisfy { $0.tensor.grad?.toArray().allSatisfy(\.isFinite) ?? true }, name)
            XCTAssertEqual(net.summary(imageSize: 1).layers.last?.outputShape, [c.numClasses!])
        }
        XCTAssertTrue(try ResNetRegistry.config("resnet50").outputSize(height: 224, width: 224) == (7, 7))
        XCTAssertTrue(try ResNetRegistry.config("resnet20").outputSize(height: 32, width: 32) == (8, 8))
        var atrous = try ResNetRegistry.config("resnet50")
        atrous.outputStride = 8
        XCTAssertTrue(atrous.outputSize(height: 224, width: 224) == (28, 28))
    }
}
