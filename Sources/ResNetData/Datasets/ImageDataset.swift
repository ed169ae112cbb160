/// A labelled collection of images the loader can read by index from any thread.
/// Implementations hold only what they need to find an image (paths or one shared buffer),
/// so memory does not grow with decoding.
public protocol ImageDataset: Sendable {
    /// Number of images.
    var count: Int { get }
    /// Class names in label order (original spelling, e.g. "T-shirt/top"); saved in checkpoints.
    var classNames: [String] { get }
    /// The label of image `index` (0 ..< classNames.count).
    func label(at index: Int) -> Int
    /// Where image `index` comes from (a path, or "fashion-mnist train #12"), for messages.
    func source(at index: Int) -> String
    /// Decodes image `index` with 1 or 3 channels. Throws a `DataError` naming the source.
    func loadImage(at index: Int, channels: Int, sizeHint: DecodeSizeHint) throws -> PixelImage
    /// The size every image has, when the dataset knows it without decoding (IDX, CIFAR).
    var uniformImageSize: (height: Int, width: Int)? { get }
}

extension ImageDataset {
    public var uniformImageSize: (height: Int, width: Int)? { nil }

    /// Number of images per class, in label order.
    public func countsPerClass() -> [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for i in 0..<count {
            let l = label(at: i)
            if l >= 0 && l < counts.count { counts[l] += 1 }
        }
        return counts
    }
}
