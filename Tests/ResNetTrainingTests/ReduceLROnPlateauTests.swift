@testable import ResNetTraining
import Foundation
import XCTest

/// ReduceLROnPlateau with PyTorch's rules: reduce once more than `patience` epochs passed without a
/// relative improvement of `threshold`, then wait out `cooldown`, never going below the minimum.
final class ReduceLROnPlateauTests: XCTestCase {
    func testReducesAfterPatienceBadEpochs() {
        let plateau = ReduceLROnPlateau(learningRate: 1, configuration: .init(factor: 0.5, patience: 2))
        XCTAssertNil(plateau.update(metric: 1.0))            // best = 1.0
        XCTAssertNil(plateau.update(metric: 0.5))            // better: best = 0.5
        XCTAssertNil(plateau.update(metric: 0.6))            // bad 1
        XCTAssertNil(plateau.update(metric: 0.5))            // bad 2 (equal is not better)
        XCTAssertEqual(plateau.update(metric: 0.7), 0.5)     // bad 3 > patience 2: 1·0.5
        XCTAssertEqual(plateau.learningRate, 0.5)
        XCTAssertEqual(plateau.badEpochs, 0)
    }

    func testImprovementResetsTheCount() {
        let plateau = ReduceLROnPlateau(learningRate: 1, configuration: .init(factor: 0.5, patience: 1))
        for metric in [1.0, 1.1, 0.9, 1.0, 0.8] { XCTAssertNil(plateau.update(metric: metric), "\(metric)") }
        XCTAssertEqual(plateau.update(metric: 0.85), nil)
        XCTAssertEqual(plateau.update(metric: 0.85), 0.5)
    }

    func testRelativeThreshold() {
        // Better means below best·(1 - 1e-4) = 0.9999.
        let plateau = ReduceLROnPlateau(learningRate: 1, configuration: .init(patience: 0))
        XCTAssertNil(plateau.update(metric: 1.0))
        XCTAssertEqual(plateau.update(metric: 0.99995)!, 0.1, accuracy: 1e-7, "too small an improvement counts as bad")
        XCTAssertEqual(plateau.best, 1.0)
        XCTAssertNil(plateau.update(metric: 0.999))
        XCTAssertEqual(plateau.best, 0.999)
    }

    func testCooldown() {
        let plateau = ReduceLROnPlateau(learningRate: 1, configuration: .init(factor: 0.5, patience: 2, cooldown: 2))
        let results = (0..<10).map { _ in plateau.update(metric: 1.0) }
        // 1: best. 2, 3: bad 1, 2. 4: bad 3 → 0.5, cooldown 2. 5, 6: cooldown, not counted.
        // 7, 8: bad 1, 2. 9: bad 3 → 0.25. 10: cooldown.
        XCTAssertEqual(results, [nil, nil, nil, 0.5, nil, nil, nil, nil, 0.25, nil])
    }

    func testMinimumLearningRate() {
        let plateau = ReduceLROnPlateau(learningRate: 1, configuration: .init(factor: 0.1, patience: 0, minimumLearningRate: 0.05))
        XCTAssertNil(plateau.update(metric: 1))
        XCTAssertEqual(plateau.update(metric: 1)!, 0.1, accuracy: 1e-7)
        XCTAssertEqual(plateau.update(metric: 1)!, 0.05, accuracy: 1e-7, "0.01 is clamped to the minimum")
        XCTAssertNil(plateau.update(metric: 1), "already at the minimum: no reduction to report")
        XCTAssertEqual(plateau.learningRate, 0.05, accuracy: 1e-7)
    }

    func testMaxModeForAccuracy() {
        let plateau = ReduceLROnPlateau(learningRate: 0.1, configuration: .init(mode: .max, factor: 0.1, patience: 1))
        XCTAssertNil(plateau.update(metric: 0.70))
        XCTAssertNil(plateau.update(metric: 0.75))
        XCTAssertNil(plateau.update(metric: 0.74))
        XCTAssertEqual(plateau.update(metric: 0.75)!, 0.01, accuracy: 1e-8)
    }

    func testAbsoluteThreshold() {
        let plateau = ReduceLROnPlateau(learningRate: 1, configuration: .init(factor: 0.5, patience: 0, threshold: 0.1, thresholdMode: .absolute))
        XCTAssertNil(plateau.update(metric: 1.0))
        XCTAssertEqual(plateau.update(metric: 0.95), 0.5, "needs to go below 1.0 - 0.1")
        XCTAssertNil(plateau.update(metric: 0.85))
    }

    func testStateRoundTrip() throws {
        let configuration = ReduceLROnPlateau.Configuration(factor: 0.5, patience: 2, cooldown: 1)
        let original = ReduceLROnPlateau(learningRate: 1, configuration: configuration)
        for metric in [1.0, 1.0, 1.0, 1.0, 1.0] { original.update(metric: metric) }
        let saved = original.state
        let encoded = try JSONEncoder().encode(configuration)
        let restored = ReduceLROnPlateau(learningRate: 1, configuration: try JSONDecoder().decode(ReduceLROnPlateau.Configuration.self, from: encoded))
        try restored.loadState(saved)
        for metric in [1.0, 1.0, 1.0, 0.5, 1.0] {
            XCTAssertEqual(original.update(metric: metric), restored.update(metric: metric))
        }
        XCTAssertEqual(original.state, restored.state)
        XCTAssertThrowsError(try restored.loadState(["best": 1])) { error in
            XCTAssertTrue("\(error)".contains("learning_rate"), "\(error)")
        }
    }
}
