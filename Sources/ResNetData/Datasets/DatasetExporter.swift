import Dispatch
import Foundation

/// Writes splits as root/<split>/<class>/<n>.png so any dataset (including the built-in
/// ones) can be looked at, edited, and read back through the folder loader.
public enum DatasetExporter {
    /// What was written: images per split and class.
    public struct Summary: Sendable {
        public var counts: [(split: String, perClass: [Int])] = []
        public var total: Int { counts.reduce(0) { $0 + $1.perClass.reduce(0, +) } }
    }

    /// The images `export` would write: per split, the dataset positions kept (the first
    /// `perClass` of each class in dataset order when a limit is given).
    public static func selection(_ splits: DatasetSplits, perClass: Int?) -> [(name: String, dataset: any ImageDataset, positions: [Int])] {
        splits.named.map { split in
            var taken = [Int](repeating: 0, count: splits.classNames.count)
            var positions: [Int] = []
            for i in 0..<split.dataset.count {
                let label = split.dataset.label(at: i)
                if let limit = perClass, taken[label] >= limit { continue }
                taken[label] += 1
                positions.append(i)
            }
            return (split.name, split.dataset, positions)
        }
    }

    /// Exports every split to `root` as PNGs, on `workers` threads. Class folders use
    /// `ClassNames.folderSafe`; files are named by the image's index in its source (IDX
    /// position for built-in data). Refuses to write into existing split folders unless
    /// `overwrite`. `progress(done, total)` is called from worker threads, serialised.
    @discardableResult
    public static func export(_ splits: DatasetSplits, to root: String, perClass: Int? = nil, overwrite: Bool = false,
                              workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                              progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) throws -> Summary {
        if let perClass, perClass <= 0 { throw DataError.invalidArgument("--per-class must be positive, got \(perClass)") }
        guard (1...LoaderOptions.maxWorkers).contains(workers) else {
            throw DataError.invalidArgument("--workers must be between 1 and \(LoaderOptions.maxWorkers) (8 per core, at least 64), got \(workers)")
        }
        try checkNotOverlapping(output: root, source: splits.sourceRoot)
        let plan = selection(splits, perClass: perClass)
        let folderNames = splits.classNames.map(ClassNames.folderSafe)
        if Set(folderNames).count != folderNames.count {
            throw DataError.invalidArgument("class names \(splits.classNames) collide once made folder-safe (\(folderNames))")
        }
        var summary = Summary()
        var jobs: [(dataset: any ImageDataset, position: Int, path: String)] = []
        for split in plan {
            let splitPath = FolderScanner.join(root, split.name)
            // A split path that exists but cannot be listed (or is a file) is an error with the
            // OS's reason, not a silent go-ahead.
            if !overwrite, FileManager.default.fileExists(atPath: splitPath), !(try FolderScanner.list(splitPath, what: "split folder")).isEmpty {
                throw DataError.badLayout(path: splitPath, reason: "already exists and is not empty (use --force to overwrite)")
            }
            for name in folderNames { try FileIO.makeDirectories(FolderScanner.join(splitPath, name)) }
            var perClassCount = [Int](repeating: 0, count: splits.classNames.count)
            for position in split.positions {
                let label = split.dataset.label(at: position)
                perClassCount[label] += 1
                let id = (split.dataset as? InMemoryDataset)?.indices[position] ?? position
                let file = String(format: "%05d.png", id)
                jobs.append((split.dataset, position, FolderScanner.join(FolderScanner.join(splitPath, folderNames[label]), file)))
            }
            summary.counts.append((split.name, perClassCount))
        }
        try runParallel(jobs, workers: workers, progress: progress)
        return summary
    }

    /// Refuses an output folder that is the data folder, lies inside it, or contains it
    /// (compared as real paths, so symlinks and ../ do not hide it): the export would write
    /// split folders into the dataset it reads, and `--force` would overwrite its images.
    static func checkNotOverlapping(output: String, source: String?) throws {
        guard let source else { return }
        let out = FileIO.resolvedPath(output), data = FileIO.resolvedPath(source)
        let relation: String
        if out == data { relation = "is the data folder" }
        else if FileIO.isSameOrInside(out, data) { relation = "is inside the data folder" }
        else if FileIO.isSameOrInside(data, out) { relation = "contains the data folder" }
        else { return }
        throw DataError.invalidArgument("--out \(output) (\(out)) \(relation) \(source) (\(data)); "
            + "exporting there would write into the dataset being read; choose a folder outside it")
    }

    /// Encodes and writes the jobs on `workers` threads; the first error stops everyone.
    static func runParallel(_ jobs: [(dataset: any ImageDataset, position: Int, path: String)], workers: Int,
                            progress: @escaping @Sendable (Int, Int) -> Void) throws {
        final class Shared: @unchecked Sendable {
            let lock = NSLock()
            var done = 0
            var firstError: Error?
        }
        let shared = Shared()
        let total = jobs.count
        let step = max(1, total / 200)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var i = worker
            while i < total {
                shared.lock.lock()
                let stop = shared.firstError != nil
                shared.lock.unlock()
                if stop { return }
                let job = jobs[i]
                do {
                    let channels = (job.dataset as? InMemoryDataset)?.storage.channels ?? 3
                    let image = try job.dataset.loadImage(at: job.position, channels: channels == 1 ? 1 : 3, sizeHint: .fullSize)
                    try PNGCodec.write(image, to: job.path)
                } catch {
                    shared.lock.lock()
                    if shared.firstError == nil { shared.firstError = error }
                    shared.lock.unlock()
                    return
                }
                shared.lock.lock()
                shared.done += 1
                if shared.done % step == 0 || shared.done == total { progress(shared.done, total) }
                shared.lock.unlock()
                i += workers
            }
        }
        if let error = shared.firstError { throw error }
    }
}
