/// Images listed from class folders; only paths are kept, images are decoded on demand by
/// the loader's workers.
public struct FolderDataset: ImageDataset {
    public let classNames: [String]
    public let entries: [FolderScanner.Entry]

    public init(classNames: [String], entries: [FolderScanner.Entry]) {
        self.classNames = classNames
        self.entries = entries
    }

    public var count: Int { entries.count }
    public func label(at index: Int) -> Int { entries[index].label }
    public func source(at index: Int) -> String { entries[index].path }

    public func loadImage(at index: Int, channels: Int, sizeHint: DecodeSizeHint) throws -> PixelImage {
        try ImageDecoder.decode(file: entries[index].path, channels: channels, sizeHint: sizeHint)
    }

    /// The images at `positions`, in that order.
    public func subset(_ positions: [Int]) -> FolderDataset {
        FolderDataset(classNames: classNames, entries: positions.map { entries[$0] })
    }
}
