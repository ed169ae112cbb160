/// Builds one batch: decode, preprocess and write each sample into its NHWC slot. Pixels
/// stay uint8 until this point; the float batch is the only float buffer.
struct BatchAssembler: Sendable {
    let dataset: any ImageDataset
    let pipeline: ImagePipeline
    let height: Int, width: Int
    let seed: UInt64
    let strict: Bool

    /// A batch plus the samples that could not be read (skipped unless strict).
    struct Output: Sendable {
        var batch: ImageBatch
        var skipped: [(index: Int, source: String, reason: String)]
    }

    func assemble(indices: [Int], epoch: Int, batchIndex: Int) throws -> Output {
        let sampleSize = height * width * pipeline.channels
        var images = [Float](repeating: 0, count: indices.count * sampleSize)
        var labels: [Int32] = [], kept: [Int] = []
        var skipped: [(Int, String, String)] = []
        labels.reserveCapacity(indices.count)
        try images.withUnsafeMutableBufferPointer { buf in
            for index in indices {
                do {
                    let image = try dataset.loadImage(at: index, channels: pipeline.channels, sizeHint: pipeline.sizeHint)
                    guard let size = pipeline.outputSize(input: (image.height, image.width)), size == (height, width) else {
                        throw DataError.invalidArgument("\(dataset.source(at: index)) gives a \(image.width)x\(image.height) image that the pipeline does not bring to \(width)x\(height)")
                    }
                    var rng = SampleRandom(seed: seed, epoch: epoch, index: index, salt: RandomSalt.augmentation)
                    pipeline.process(image, rng: &rng, into: buf.baseAddress! + kept.count * sampleSize)
                    kept.append(index)
                    labels.append(Int32(dataset.label(at: index)))
                } catch let error as DataError {
                    if strict { throw error }
                    skipped.append((index, dataset.source(at: index), error.description))
                }
            }
        }
        if kept.count < indices.count { images.removeLast((indices.count - kept.count) * sampleSize) }
        let batch = ImageBatch(images: images, labels: labels, count: kept.count, height: height, width: width,
                               channels: pipeline.channels, indices: kept, epoch: epoch, batchIndex: batchIndex)
        return Output(batch: batch, skipped: skipped)
    }
}
