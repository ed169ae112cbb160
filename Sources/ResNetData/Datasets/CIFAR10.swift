/// CIFAR-10's binary version (cifar-10-batches-bin): records of one label byte and 3,072
/// pixel bytes stored channel-planar (all R, then G, then B), converted here to HWC.
public enum CIFAR10 {
    public static let classNames = ["airplane", "automobile", "bird", "cat", "deer",
                                    "dog", "frog", "horse", "ship", "truck"]
    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFiles = ["test_batch.bin"]
    static let recordSize = 1 + 32 * 32 * 3

    /// Parses the records of one or more batch files into an in-memory dataset.
    public static func load(files: [String], name: String) throws -> InMemoryDataset {
        var pixels: [UInt8] = [], labels: [UInt8] = []
        for path in files {
            let bytes = try FileIO.read(path)
            guard !bytes.isEmpty, bytes.count % recordSize == 0 else {
                throw DataError.badDataFile(path: path, reason: "size \(bytes.count) is not a multiple of the \(recordSize)-byte CIFAR-10 record")
            }
            let records = bytes.count / recordSize
            pixels.reserveCapacity(pixels.count + records * 3072)
            for r in 0..<records {
                let base = r * recordSize
                guard bytes[base] < 10 else {
                    throw DataError.badDataFile(path: path, reason: "record \(r) has label \(bytes[base]); CIFAR-10 labels are 0…9")
                }
                labels.append(bytes[base])
                for p in 0..<1024 {
                    pixels.append(bytes[base + 1 + p]); pixels.append(bytes[base + 1025 + p]); pixels.append(bytes[base + 2049 + p])
                }
            }
        }
        let storage = InMemoryDataset.Storage(pixels: pixels, labels: labels, height: 32, width: 32, channels: 3, name: name)
        return InMemoryDataset(storage: storage, classNames: classNames)
    }

    /// Splits from a cifar-10-batches-bin folder: the 50,000 training images split 9:1 into
    /// train/validation (seeded), and the 10,000 test images.
    public static func splits(directory: String, seed: UInt64 = 0) throws -> DatasetSplits {
        let hint = "Download the binary version (cifar-10-binary.tar.gz) and pass the extracted cifar-10-batches-bin folder."
        for file in trainFiles + testFiles where !FileIO.isReadable(FolderScanner.join(directory, file)) {
            throw DataError.datasetMissing(name: "CIFAR-10", path: FolderScanner.join(directory, file), hint: hint)
        }
        let train = try load(files: trainFiles.map { FolderScanner.join(directory, $0) }, name: "cifar-10 train")
        let test = try load(files: testFiles.map { FolderScanner.join(directory, $0) }, name: "cifar-10 test")
        return try BuiltinSplits.make(trainAndValidation: train, test: test, seed: seed, name: "CIFAR-10")
    }
}
