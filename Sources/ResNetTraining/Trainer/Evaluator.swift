import Foundation
import ResNetData
import ResNetModels

/// Runs a model over a loader in inference mode and gathers loss, top-1, top-k, per-class
/// accuracy and the confusion matrix.
public enum Evaluator {
    /// `stop`: a requested stop ends the pass at the next batch with `TrainingError.interrupted`.
    /// `tta`: `.flip` averages the probabilities of each image and its horizontal flip.
    public static func evaluate(_ model: ResNet, loader: DataLoader, classes: Int, topK: Int,
                                progress: ProgressBar? = nil, stop: StopRequest? = nil,
                                tta: TestTimeAugmentation = .none) throws -> ClassificationMetrics {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        var metrics = ClassificationMetrics(classes: classes, topK: min(topK, classes))
        let iterator = loader.epoch(0)
        var done = 0
        while let batch = try iterator.next() {
            if let why = stop?.requested {
                iterator.cancel()
                throw TrainingError.interrupted("stopped by \(why) during evaluation")
            }
            let scores: Tensor, loss: Double
            if tta == .flip {
                // Probabilities averaged over the image and its mirror image.
                let flipped = TestTimeFlip.lossAndScores(TestTimeFlip.probabilities(model, batch.tensor),
                                                         labels: batch.labels, classes: classes)
                (loss, scores) = (flipped.loss, Tensor(shape: [batch.labels.count, classes], values: flipped.scores))
            } else {
                scores = GradMode.withoutGradient { model(batch.tensor) }
                loss = Double(GradMode.withoutGradient { crossEntropy(scores, labels: LabelTensor(batch.labels)) }.scalar)
            }
            metrics.add(logits: scores, labels: batch.labels, loss: loss)
            done += 1
            progress?.update(done, values: [("loss", metrics.loss ?? .nan), ("acc", metrics.accuracy)])
        }
        progress?.finish(values: [("loss", metrics.loss ?? .nan), ("acc", metrics.accuracy)])
        return metrics
    }
}

extension ImageBatch {
    /// The batch as an NHWC engine tensor.
    public var tensor: Tensor { Tensor(shape: [count, height, width, channels], values: images) }
}
