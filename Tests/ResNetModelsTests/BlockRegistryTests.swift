import Foundation
import XCTest
import ResNetEngine
import ResNetLayers
@testable import ResNetModels

/// Block types come from `ResNetRegistry.blockTypes`: the configuration's expansion, grouping and
/// weight bound read the registered unit type, and a block kind no version registers is refused.
final class BlockRegistryTests: XCTestCase {
    func testRegisteredTypesBuildTheirUnitsAndCountTheirWeights() throws {
        XCTAssertTrue(ResNetRegistry.blockTypes[.v1]?[.basic] == BasicBlock.self)
        XCTAssertTrue(ResNetRegistry.blockTypes[.v1]?[.bottleneck] == Bottleneck.self)
        XCTAssertTrue(ResNetRegistry.blockTypes[.v2]?[.bottleneck] == PreActBottleneck.self)
        for (name, unit) in [("resnet18", BasicBlock.self), ("resnext50_32x4d", Bottleneck.self), ("resnet_v2_50", PreActBottleneck.self)]
            as [(String, any ResidualUnit.Type)] {
            let net = try ResNetRegistry.make(name)
            XCTAssertTrue(net.stages.allSatisfy { $0.units.allSatisfy { type(of: $0) == unit } }, name)
            // Every convolution and the classifier's weight: what the estimate bounds (it counts a projection on
            // every first unit under shortcut B, so it may exceed by one 1x1 of stage 1, under 1%).
            let weights = net.namedParameters.filter { $0.name.hasSuffix("weight") && $0.tensor.rank != 1 }.reduce(0) { $0 + $1.tensor.count }
            XCTAssertGreaterThanOrEqual(net.config.estimatedWeightCount, weights, name)
            XCTAssertLessThan(net.config.estimatedWeightCount - weights, weights / 100, name)
        }
        XCTAssertEqual(try ResNetRegistry.config("resnet50").expansion, 4)
        XCTAssertEqual(try ResNetRegistry.config("resnet34").expansion, 1)
        XCTAssertEqual(ResNetRegistry.groupedBlockNames, "v1 bottleneck")
    }

    func testAnUnregisteredBlockKindIsRefusedByName() throws {
        var c = try ResNetRegistry.config("resnet50")
        c.block = "dense"
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual("\(error)", "invalid model configuration: v1 models have no 'dense' blocks (registered: basic, bottleneck)")
        }
        c = try ResNetRegistry.config("resnet_v2_50")
        c.block = .basic
        XCTAssertThrowsError(try ResNet(c)) { error in
            XCTAssertEqual("\(error)", "invalid model configuration: v2 models have no 'basic' blocks (registered: bottleneck)")
        }
    }

    /// Checkpoints store the kind as a plain string, as when it was an enum.
    func testBlockKindIsAStringInCheckpoints() throws {
        let json = String(decoding: try JSONEncoder().encode(try ResNetRegistry.config("resnet18")), as: UTF8.self)
        XCTAssertTrue(json.contains("\"block\":\"basic\""), json)
        let decoded = try JSONDecoder().decode(ResNetConfig.self, from: Data(json.utf8))
        XCTAssertEqual(decoded.block, .basic)
    }
}
