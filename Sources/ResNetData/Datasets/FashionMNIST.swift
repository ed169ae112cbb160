/// Fashion-MNIST, the built-in default dataset, read from Debian's `dataset-fashion-mnist`
/// package so that training works offline with nothing to download.
public enum FashionMNIST {
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    /// Label order of the official release.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    public static let installHint = "Install it with `sudo apt-get install dataset-fashion-mnist`, or pass --data DIR with your own class folders."

    public enum Part: String, Sendable { case train, test }

    /// Loads the official training (60,000) or test (10,000) images as one in-memory dataset.
    public static func load(_ part: Part, directory: String = defaultDirectory) throws -> InMemoryDataset {
        let prefix = part == .train ? "train" : "t10k"
        let imagesPath = FolderScanner.join(directory, "\(prefix)-images-idx3-ubyte.gz")
        let labelsPath = FolderScanner.join(directory, "\(prefix)-labels-idx1-ubyte.gz")
        for path in [imagesPath, labelsPath] where !FileIO.isReadable(path) {
            throw DataError.datasetMissing(name: "Fashion-MNIST", path: path, hint: installHint)
        }
        return try IDXDataset.load(imagesPath: imagesPath, labelsPath: labelsPath, classNames: classNames,
                                   name: "fashion-mnist \(part.rawValue)")
    }

    /// The built-in splits: train and validation 9:1 (stratified, seeded) from the official
    /// training set, test = the official test set. `export` writes exactly these.
    public static func splits(directory: String = defaultDirectory, seed: UInt64 = 0) throws -> DatasetSplits {
        let train = try load(.train, directory: directory)
        let test = try load(.test, directory: directory)
        return try BuiltinSplits.make(trainAndValidation: train, test: test, seed: seed, name: "Fashion-MNIST")
    }
}

/// Shared by the built-in datasets: a 9:1 stratified train/validation split of the official
/// training set, so validation never touches the official test set.
enum BuiltinSplits {
    static func make(trainAndValidation full: InMemoryDataset, test: InMemoryDataset, seed: UInt64, name: String) throws -> DatasetSplits {
        let labels = (0..<full.count).map { full.label(at: $0) }
        let parts = try StratifiedSplit.split(labels: labels, ratios: [9, 1], seed: seed)
        return DatasetSplits(classNames: full.classNames, train: full.subset(parts[0]), validation: full.subset(parts[1]),
                             test: test, skipped: [],
                             layout: "\(name): official training set split 9:1 into train/validation (seed \(seed)), official test set")
    }
}

/// Pairs an IDX image file with an IDX label file.
public enum IDXDataset {
    public static func load(imagesPath: String, labelsPath: String, classNames: [String], name: String) throws -> InMemoryDataset {
        let images = try IDXFile.read(path: imagesPath, expectedDimensions: 3)
        let labels = try IDXFile.read(path: labelsPath, expectedDimensions: 1)
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DataError.badDataFile(path: labelsPath, reason: "has \(labels.dimensions[0]) labels but \(imagesPath) has \(images.dimensions[0]) images")
        }
        if let bad = labels.data.firstIndex(where: { Int($0) >= classNames.count }) {
            throw DataError.badDataFile(path: labelsPath, reason: "label \(labels.data[bad]) at position \(bad) is not below the \(classNames.count) classes")
        }
        let storage = InMemoryDataset.Storage(pixels: images.data, labels: labels.data, height: images.dimensions[1],
                                              width: images.dimensions[2], channels: 1, name: name)
        return InMemoryDataset(storage: storage, classNames: classNames)
    }
}
