import Foundation
@testable import ResNetTraining
import XCTest

/// `evaluate --tta flip`: the flip mirrors left-right (not up-down), and the probabilities are the
/// mean of the image's and its mirror image's.
final class TestTimeFlipTests: TrainerTestCase {
    /// value = 1000 n + 100 y + 10 x + c, for a 2 x 2 x 3 x 2 NHWC batch.
    private func numbered() -> Tensor {
        var v: [Float] = []
        for n in 0..<2 { for y in 0..<2 { for x in 0..<3 { for c in 0..<2 { v.append(Float(1000 * n + 100 * y + 10 * x + c)) } } } }
        return Tensor(shape: [2, 2, 3, 2], values: v)
    }

    func testTheFlipMirrorsEachRowLeftRight() {
        let out = TestTimeFlip.flippedHorizontally(numbered()).toArray()
        var i = 0
        for n in 0..<2 { for y in 0..<2 { for x in 0..<3 { for c in 0..<2 {
            XCTAssertEqual(out[i], Float(1000 * n + 100 * y + 10 * (2 - x) + c), "n \(n) y \(y) x \(x) c \(c)")
            i += 1
        } } } }
        XCTAssertEqual(TestTimeFlip.flippedHorizontally(TestTimeFlip.flippedHorizontally(numbered())).toArray(), numbered().toArray())
    }

    func testProbabilitiesAreAveragedAndScoredByHand() {
        XCTAssertEqual(TestTimeFlip.average([0.2, 0.8, 0.5, 0.5], [0.6, 0.4, 0.1, 0.9]), [0.4, 0.6, 0.3, 0.7])
        let (loss, scores) = TestTimeFlip.lossAndScores([0.4, 0.6, 0.3, 0.7], labels: [0, 1], classes: 2)
        XCTAssertEqual(loss, -(log(0.4) + log(0.7)) / 2, accuracy: 1e-6)
        XCTAssertEqual(scores[1] > scores[0], true, "scores rank as the probabilities")
    }

    /// On a model: an asymmetric image's answer is the mean of the softmax of the image and of its
    /// mirror image (built here by hand); a left-right symmetric image's answer is its own.
    func testAModelsAnswerIsTheMeanOverTheImageAndItsMirror() throws {
        let model = try model("resnet20", seed: 3, classes: 4)
        model.eval()
        let side = 12
        let x = Tensor.randomNormal([1, side, side, 3], seed: 8)
        let v = x.toArray()
        var mirrored = v, symmetric = v
        for y in 0..<side { for col in 0..<side { for c in 0..<3 {
            mirrored[(y * side + col) * 3 + c] = v[(y * side + (side - 1 - col)) * 3 + c]
            symmetric[(y * side + col) * 3 + c] = v[(y * side + min(col, side - 1 - col)) * 3 + c]
        } } }
        func probabilities(_ values: [Float]) -> [Float] {
            GradMode.withoutGradient { softmax(model(Tensor(shape: [1, side, side, 3], values: values))).toArray() }
        }
        let plain = probabilities(v), flipped = probabilities(mirrored)
        XCTAssertNotEqual(plain, flipped, "the mirror image gets another answer")
        let tta = TestTimeFlip.probabilities(model, x)
        for k in 0..<4 { XCTAssertEqual(tta[k], (plain[k] + flipped[k]) / 2, accuracy: 1e-6) }
        XCTAssertEqual(tta.reduce(0, +), 1, accuracy: 1e-5)
        let s = probabilities(symmetric), sTTA = TestTimeFlip.probabilities(model, Tensor(shape: [1, side, side, 3], values: symmetric))
        for k in 0..<4 { XCTAssertEqual(sTTA[k], s[k], accuracy: 1e-6) }
    }

    /// The evaluator's --tta flip pass counts every image and gives a finite loss of its own.
    func testTheEvaluatorRunsWithFlipAveraging() throws {
        let (_, dir, _) = try committedRun()
        let predictor = try Predictor(checkpoint: dir)
        var s = try XCTUnwrap(predictor.checkpoint).settings
        s.batchSize = 4
        let loader = try XCTUnwrap(PreparedData(s, forEvaluation: true, preprocessing: predictor.preprocessing).test)
        let plain = try Evaluator.evaluate(predictor.model, loader: loader, classes: 3, topK: 2)
        let flip = try Evaluator.evaluate(predictor.model, loader: loader, classes: 3, topK: 2, tta: .flip)
        XCTAssertEqual(flip.count, plain.count)
        XCTAssertTrue(flip.loss?.isFinite ?? false)
        XCTAssertNotEqual(flip.loss, plain.loss)
    }
}
