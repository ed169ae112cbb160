import ResNetEngine
@testable import ResNetTraining
import XCTest

/// Saving and restoring optimizer state by name: a restored optimizer must continue exactly as the original.
final class OptimizerStateTests: XCTestCase {
    private func parameters() -> [(name: String, tensor: Tensor)] {
        [TwoStepExample.parameter("layer1.0.conv1.weight", shape: [3, 1, 1, 1]), TwoStepExample.parameter("fc.bias")]
    }

    private func copies(_ parameters: [(name: String, tensor: Tensor)]) -> [(name: String, tensor: Tensor)] {
        parameters.map { ($0.name, Tensor(shape: $0.tensor.shape, values: $0.tensor.toArray(), requiresGrad: true)) }
    }

    /// Two steps on the original, snapshot, a third step on both the original and a fresh optimizer loaded from it.
    private func assertRoundTrip(_ make: ([(name: String, tensor: Tensor)]) -> Optimizer, file: StaticString = #filePath, line: UInt = #line) throws {
        let original = make(parameters())
        _ = TwoStepExample.run(original)
        let saved = original.state
        let restored = make(copies(original.parameters))
        try restored.loadState(saved)
        let third: [[Float]] = [[-0.25, 0.75, 1.5]]
        XCTAssertEqual(TwoStepExample.run(original, gradients: third), TwoStepExample.run(restored, gradients: third), file: file, line: line)
        for ((_, a), (_, b)) in zip(original.parameters, restored.parameters) {
            XCTAssertEqual(a.toArray(), b.toArray(), file: file, line: line)
        }
        XCTAssertEqual(Set(saved.keys), Set(restored.state.keys), file: file, line: line)
        XCTAssertNotEqual(saved.values.map { $0.toArray() }.sorted { $0.lexicographicallyPrecedes($1) },
                          original.state.values.map { $0.toArray() }.sorted { $0.lexicographicallyPrecedes($1) },
                          "the snapshot is a copy: the third step must not change it", file: file, line: line)
    }

    func testSGDStateRoundTrip() throws {
        try assertRoundTrip { SGD(parameters: $0, learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4) }
    }

    func testAdamStateRoundTrip() throws {
        try assertRoundTrip { Adam(parameters: $0, learningRate: 0.1, weightDecay: 0.01) }
    }

    func testAdamWStateRoundTrip() throws {
        try assertRoundTrip { AdamW(parameters: $0, learningRate: 0.1) }
    }

    func testStateKeysAreNamedByParameter() {
        let sgd = SGD(parameters: parameters(), learningRate: 0.1, momentum: 0.9)
        XCTAssertEqual(Set(sgd.state.keys), ["layer1.0.conv1.weight.momentum_buffer", "fc.bias.momentum_buffer"])
        let adam = Adam(parameters: parameters())
        XCTAssertEqual(Set(adam.state.keys), [
            "layer1.0.conv1.weight.step", "layer1.0.conv1.weight.exp_avg", "layer1.0.conv1.weight.exp_avg_sq",
            "fc.bias.step", "fc.bias.exp_avg", "fc.bias.exp_avg_sq",
        ])
        XCTAssertEqual(adam.state["layer1.0.conv1.weight.exp_avg"]!.shape, [3, 1, 1, 1])
    }

    func testLoadStateMissingKeyThrowsNamingIt() {
        let adam = Adam(parameters: parameters())
        var state = adam.state
        state["fc.bias.exp_avg_sq"] = nil
        XCTAssertThrowsError(try Adam(parameters: parameters()).loadState(state)) { error in
            XCTAssertEqual(error as? OptimizerStateError, .missingKey("fc.bias.exp_avg_sq"))
            XCTAssertTrue("\(error)".contains("fc.bias.exp_avg_sq"), "\(error)")
        }
    }

    func testLoadStateMisshapedKeyThrowsAndChangesNothing() {
        let sgd = SGD(parameters: parameters(), learningRate: 0.1, momentum: 0.9)
        var state = sgd.state
        state["fc.bias.momentum_buffer"] = Tensor(shape: [4], values: [1, 1, 1, 1])
        state["layer1.0.conv1.weight.momentum_buffer"] = Tensor(shape: [3, 1, 1, 1], values: [5, 5, 5])
        XCTAssertThrowsError(try sgd.loadState(state)) { error in
            XCTAssertEqual(error as? OptimizerStateError, .shapeMismatch(key: "fc.bias.momentum_buffer", expected: [3], found: [4]))
            XCTAssertTrue("\(error)".contains("fc.bias.momentum_buffer"), "\(error)")
        }
        XCTAssertEqual(sgd.state["layer1.0.conv1.weight.momentum_buffer"]!.toArray(), [0, 0, 0], "validated before anything is copied")
    }

    func testLoadStateFromAnotherOptimizerThrows() {
        let sgdState = SGD(parameters: parameters(), learningRate: 0.1, momentum: 0.9).state
        XCTAssertThrowsError(try Adam(parameters: parameters()).loadState(sgdState)) { error in
            XCTAssertEqual(error as? OptimizerStateError, .missingKey("layer1.0.conv1.weight.step"))
        }
        var adamState = Adam(parameters: parameters()).state
        adamState["fc.bias.momentum_buffer"] = Tensor(zeros: [3])
        XCTAssertThrowsError(try Adam(parameters: parameters()).loadState(adamState)) { error in
            XCTAssertEqual(error as? OptimizerStateError, .unexpectedKey("fc.bias.momentum_buffer"))
        }
    }
}
