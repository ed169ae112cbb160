/// A batch handed to training: NHWC float32 images, as the engine expects them.
public struct ImageBatch: Sendable {
    /// NHWC, `count * height * width * channels` values.
    public var images: [Float]
    public var labels: [Int32]
    public var count: Int
    public var height: Int
    public var width: Int
    public var channels: Int
    /// Dataset indices of the images, for debugging and exact resume.
    public var indices: [Int]
    /// Which epoch and which batch of that epoch this is (for resume bookkeeping).
    public var epoch: Int
    public var batchIndex: Int

    public init(images: [Float], labels: [Int32], count: Int, height: Int, width: Int, channels: Int, indices: [Int],
                epoch: Int = 0, batchIndex: Int = 0) {
        self.images = images
        self.labels = labels
        self.count = count
        self.height = height
        self.width = width
        self.channels = channels
        self.indices = indices
        self.epoch = epoch
        self.batchIndex = batchIndex
    }
}
