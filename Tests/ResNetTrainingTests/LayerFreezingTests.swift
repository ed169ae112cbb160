import Foundation
@testable import ResNetTraining
import XCTest

/// `--freeze`: frozen parts keep every byte (weights and batch-norm statistics) through training,
/// the rest learns, and the part names are the ones the model really has.
final class LayerFreezingTests: TrainerTestCase {
    /// Every parameter and buffer of the model, copied out.
    private func values(_ model: ResNet) -> [String: [Float]] {
        model.stateDict().mapValues { $0.toArray() }
    }

    private func trainOneEpoch(freezing parts: [String]) throws -> (before: [String: [Float]], after: [String: [Float]], trainer: Trainer) {
        var s = settings(data: try makeDataset("data"), epochs: 1)
        s.freeze = parts
        let trainer = try Trainer.start(s, runDirectory: path("run"), say: { _ in })
        let before = values(trainer.model)
        try trainer.fit()
        return (before, values(trainer.model), trainer)
    }

    func testFrozenPartsAreByteIdenticalAfterTrainingAndTheRestLearns() throws {
        let (before, after, trainer) = try trainOneEpoch(freezing: ["stem", "layer1"])
        let frozen = before.keys.filter { $0.hasPrefix("conv1.") || $0.hasPrefix("bn1.") || $0.hasPrefix("layer1.") }
        XCTAssertGreaterThan(frozen.count, 20, "conv1, bn1 and the units of layer1, statistics included")
        XCTAssertTrue(frozen.contains("layer1.0.bn1.running_mean") && frozen.contains("bn1.num_batches_tracked"))
        for name in frozen { XCTAssertEqual(after[name], before[name], "\(name) is frozen") }
        let learning = before.keys.filter { !frozen.contains($0) }
        XCTAssertTrue(learning.contains("fc.weight") && learning.contains("layer3.2.bn2.running_var"))
        for name in learning { XCTAssertNotEqual(after[name], before[name], "\(name) trains") }
        // The optimizer never holds a frozen parameter, so weight decay cannot reach it either.
        let updated = Set(trainer.optimizer.parameters.map(\.name))
        XCTAssertTrue(updated.isDisjoint(with: frozen))
        XCTAssertEqual(updated, Set(trainer.model.namedParameters.map(\.name).filter { !frozen.contains($0) }))
    }

    func testFreezingTheBackboneTrainsOnlyTheClassifier() throws {
        let (before, after, trainer) = try trainOneEpoch(freezing: ["backbone"])
        for (name, value) in before where !name.hasPrefix("fc.") { XCTAssertEqual(after[name], value, name) }
        XCTAssertNotEqual(after["fc.weight"], before["fc.weight"])
        XCTAssertNotEqual(after["fc.bias"], before["fc.bias"])
        XCTAssertEqual(trainer.optimizer.parameters.map(\.name), ["fc.weight", "fc.bias"])
    }

    func testPartNamesFollowTheModel() throws {
        XCTAssertEqual(LayerFreezing.names(for: try ResNetRegistry.config("resnet20")), ["backbone", "stem", "layer1", "layer2", "layer3"])
        XCTAssertEqual(LayerFreezing.names(for: try ResNetRegistry.config("resnet50")), ["backbone", "stem", "layer1", "layer2", "layer3", "layer4"])
        XCTAssertEqual(LayerFreezing.names(for: try ResNetRegistry.config("resnet_v2_50")),
                       ["backbone", "stem", "layer1", "layer2", "layer3", "layer4", "postnorm"])
        // v2 has no bn1: its stem is the biased conv1 alone; backbone takes postnorm too.
        let v2 = try model("resnet_v2_50", seed: 1, classes: 3)
        XCTAssertEqual(try LayerFreezing.freeze(["stem"], in: v2), ["conv1", "maxpool"])
        XCTAssertFalse(v2.namedParameters.first { $0.name == "conv1.bias" }!.tensor.requiresGrad)
        XCTAssertEqual(try LayerFreezing.freeze(["backbone"], in: v2), ["conv1", "maxpool", "layer1", "layer2", "layer3", "layer4", "postnorm", "avgpool"])
        XCTAssertEqual(v2.trainableParameters.map(\.name), ["fc.weight", "fc.bias"])

        var s = settings(data: "unused", epochs: 1)
        for (parts, message) in [(["layer4"], "--freeze: resnet20 has no part 'layer4'; its parts are backbone, stem, layer1, layer2, layer3"),
                                 (["stem", ""], "--freeze: resnet20 has no part ''"),
                                 ([], "--freeze needs one or more of backbone, stem, layer1, layer2, layer3")] {
            s.freeze = parts
            XCTAssertThrowsError(try s.validate()) { error in
                XCTAssertTrue("\(error)".hasPrefix(message), "\(error)")
            }
        }
        s.model = "resnet50"
        s.freeze = ["layer4", "stem"]
        XCTAssertNoThrow(try s.validate())
    }
}
