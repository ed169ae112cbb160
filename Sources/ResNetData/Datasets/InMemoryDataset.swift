/// Images of one fixed size held in one shared byte buffer (IDX, CIFAR-10): a split or a
/// subset is just a list of indices into that buffer, so splitting copies nothing.
public struct InMemoryDataset: ImageDataset {
    /// The shared pixels: `count * height * width * channels` bytes, HWC per image.
    public final class Storage: @unchecked Sendable {
        public let pixels: [UInt8]
        public let labels: [UInt8]
        public let height: Int, width: Int, channels: Int
        /// Names images in messages, e.g. "fashion-mnist train".
        public let name: String

        public init(pixels: [UInt8], labels: [UInt8], height: Int, width: Int, channels: Int, name: String) {
            precondition(pixels.count == labels.count * height * width * channels, "InMemoryDataset.Storage: size mismatch")
            self.pixels = pixels
            self.labels = labels
            self.height = height
            self.width = width
            self.channels = channels
            self.name = name
        }
    }

    public let storage: Storage
    /// Indices into `storage` (the images of this dataset, in order).
    public let indices: [Int]
    public let classNames: [String]

    public init(storage: Storage, classNames: [String], indices: [Int]? = nil) {
        self.storage = storage
        self.classNames = classNames
        self.indices = indices ?? Array(0..<storage.labels.count)
    }

    public var count: Int { indices.count }
    public var uniformImageSize: (height: Int, width: Int)? { (storage.height, storage.width) }
    public func label(at index: Int) -> Int { Int(storage.labels[indices[index]]) }
    public func source(at index: Int) -> String { "\(storage.name) #\(indices[index])" }

    public func loadImage(at index: Int, channels: Int, sizeHint: DecodeSizeHint) throws -> PixelImage {
        let n = storage.height * storage.width * storage.channels
        let start = indices[index] * n
        let raw = Array(storage.pixels[start..<start + n])
        let converted = ColorConversion.convert(raw, pixelCount: storage.height * storage.width,
                                                from: storage.channels, to: channels)
        return PixelImage(width: storage.width, height: storage.height, channels: channels, pixels: converted)
    }

    /// A dataset of a subset of this one (positions relative to this dataset).
    public func subset(_ positions: [Int]) -> InMemoryDataset {
        InMemoryDataset(storage: storage, classNames: classNames, indices: positions.map { indices[$0] })
    }
}
