import Foundation
import ResNetModels

/// Test-time augmentation for `evaluate --tta`: `flip` averages the class probabilities of each
/// image and its mirror image (left-right), the horizontal-flip averaging of Krizhevsky et al.
/// 2012 ("ImageNet Classification with Deep Convolutional Neural Networks") and timm's `--tta`.
public enum TestTimeAugmentation: String, CaseIterable, Sendable {
    case none, flip
}

enum TestTimeFlip {
    /// An NHWC batch mirrored left-right: out[n, y, x, c] = in[n, y, W-1-x, c].
    static func flippedHorizontally(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4, "a horizontal flip needs an NHWC batch, got \(x.shape)")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let source = x.toArray()
        var out = [Float](repeating: 0, count: source.count)
        for row in 0..<(n * h) {
            let base = row * w * c
            for col in 0..<w {
                let from = base + (w - 1 - col) * c, to = base + col * c
                for k in 0..<c { out[to + k] = source[from + k] }
            }
        }
        return Tensor(shape: x.shape, values: out)
    }

    /// The mean of two [N, K] probability tables.
    static func average(_ a: [Float], _ b: [Float]) -> [Float] {
        precondition(a.count == b.count, "averaging \(a.count) and \(b.count) probabilities")
        return zip(a, b).map { ($0 + $1) / 2 }
    }

    /// [N, K] class probabilities of `x` under `model`, averaged over the image and its flip.
    static func probabilities(_ model: ResNet, _ x: Tensor) -> [Float] {
        GradMode.withoutGradient {
            average(softmax(model(x)).toArray(), softmax(model(flippedHorizontally(x))).toArray())
        }
    }

    /// Mean cross-entropy of probabilities against labels, and the log-probabilities (which rank
    /// classes as the probabilities do) for the accuracy counters.
    static func lossAndScores(_ p: [Float], labels: [Int32], classes: Int) -> (loss: Double, scores: [Float]) {
        let scores = p.map { Foundation.log(max($0, Float.leastNormalMagnitude)) }
        var total = 0.0
        for (i, label) in labels.enumerated() { total -= Double(scores[i * classes + Int(label)]) }
        return (total / Double(max(labels.count, 1)), scores)
    }
}
