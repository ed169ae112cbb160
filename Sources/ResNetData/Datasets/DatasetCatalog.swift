/// One place that turns command-line choices (`--data DIR` or `--dataset NAME`) into
/// splits, so `train`, `eval`, `data inspect` and `data export` all see the same data.
public enum DatasetCatalog {
    /// Names accepted by `--dataset`.
    public static let builtinNames = ["fashion-mnist", "cifar10"]

    /// Opens a folder dataset when `data` is given, else the built-in dataset `dataset`
    /// (default Fashion-MNIST). `location` overrides where a built-in dataset lives
    /// (required for CIFAR-10, which Debian does not package).
    public static func open(data: String?, dataset: String?, location: String? = nil,
                            ratios: [Double] = [8, 1, 1], seed: UInt64 = 0) throws -> DatasetSplits {
        if let data {
            if dataset != nil { throw DataError.invalidArgument("give either --data or --dataset, not both") }
            return try DatasetSplits.openFolder(data, ratios: ratios, seed: seed)
        }
        switch (dataset ?? "fashion-mnist").lowercased() {
        case "fashion-mnist", "fashion_mnist", "fashionmnist":
            return try FashionMNIST.splits(directory: location ?? FashionMNIST.defaultDirectory, seed: seed)
        case "cifar10", "cifar-10":
            guard let location else {
                throw DataError.invalidArgument("CIFAR-10 needs the folder of its binary batches (cifar-10-batches-bin)")
            }
            return try CIFAR10.splits(directory: location, seed: seed)
        case let other:
            throw DataError.invalidArgument("unknown dataset '\(other)'; built-in datasets: \(builtinNames.joined(separator: ", "))")
        }
    }
}
