import ArgumentParser
import Dispatch
import Foundation
import ResNetData
import ResNetTraining

/// `resnet data …`: look at, export and benchmark the data the loader sees.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Inspect, export and benchmark datasets.",
        subcommands: [DataExportCommand.self, DataInspectCommand.self, DataBenchCommand.self])
}

/// Where the data comes from: shared by every command that reads a dataset, so they all
/// accept the same flags and see the same splits.
struct DataSourceOptions: ParsableArguments {
    @Option(help: "Image folder: root/<class>/… (split by --split) or root/{train,validation|val,test}/<class>/….")
    var data: String?

    @Option(help: "Built-in dataset when --data is not given: fashion-mnist (default) or cifar10.")
    var dataset: String?

    @Option(help: "Where the built-in dataset lives (Fashion-MNIST default: /usr/share/datasets/fashion-mnist; CIFAR-10: its cifar-10-batches-bin folder).")
    var datasetDir: String?

    @Option(help: "train:validation:test ratios for a single class-folder root.")
    var split = "8:1:1"

    @Option(help: "Seed for splitting, shuffling and augmentation.")
    var seed: UInt64 = 0

    /// Opens the splits; a DataError reaches the user as "Error: <what and where>".
    func open() throws -> DatasetSplits {
        try DatasetCatalog.open(data: data, dataset: dataset, location: datasetDir,
                                ratios: try StratifiedSplit.parseRatios(split), seed: seed)
    }

    func apply(to s: inout TrainingSettings) throws {
        s.data = data
        s.dataset = data == nil ? (dataset ?? "fashion-mnist") : dataset
        s.datasetLocation = datasetDir
        s.splitRatios = try StratifiedSplit.parseRatios(split)
        s.seed = seed
    }

    /// A short name for messages.
    var label: String { data ?? dataset ?? "fashion-mnist" }
}

/// Keras `ImageDataGenerator` flags plus the ImageNet-style steps, so a training run is
/// described by the same words as in the seed article.
struct AugmentationFlags: ParsableArguments {
    @Option(help: "Output height and width (e.g. 224; default: a built-in dataset's own size); images are resized to it.")
    var imageSize: Int?
    @Option(help: "Channels: 1 (gray) or 3 (RGB).") var channels: Int?
    @Option(help: "Resize filter: nearest (Keras default) or bilinear.") var resize = "nearest"
    @Option(help: "Keras width_shift_range.") var widthShift = 0.0
    @Option(help: "Keras height_shift_range.") var heightShift = 0.0
    @Option(help: "Keras shear_range, degrees.") var shear = 0.0
    @Option(help: "Keras zoom_range z: zoom drawn from [1-z, 1+z].") var zoom = 0.0
    @Option(help: "Keras rotation_range, degrees.") var rotation = 0.0
    @Flag(help: "Keras horizontal_flip.") var horizontalFlip = false
    @Flag(help: "Keras vertical_flip.") var verticalFlip = false
    @Option(help: "Keras fill_mode: nearest, constant, reflect or wrap.") var fillMode = "nearest"
    @Option(help: "Keras cval for fill-mode constant.") var cval: Float = 0
    @Option(help: "Keras rescale (multiplies pixels after the transform).") var rescale: Float = 1.0 / 255
    @Option(help: ArgumentHelp("CIFAR's random crop: pad PAD zero pixels on each side, crop back at a random offset (torchvision RandomCrop(size, padding: PAD)); at most half the image side.",
                               valueName: "pad"))
    var randomCrop: Int?
    @Option(help: ArgumentHelp("Random Erasing (Zhong et al. 2017) with probability P: a random rectangle (area 0.02-0.4, aspect 0.3-3.3) filled with random pixel values, after normalisation.",
                               valueName: "p"))
    var randomErasing: Double?
    @Option(help: ArgumentHelp("RandAugment (Cubuk et al. 2020), torchvision's op set: N ops per image at magnitude M (0-30), e.g. 2,9.",
                               valueName: "n,m"))
    var randaugment: String?
    @Option(help: ArgumentHelp("torchvision ColorJitter: brightness, contrast, saturation factors from [max(0,1-x), 1+x], hue shift from [-h, h] (h at most 0.5), in random order.",
                               valueName: "b[,c[,s[,h]]]"))
    var colorJitter: String?
    @Flag(help: "The seed article's augmentation: shift 0.1, shear 0.1, zoom 0.1, horizontal flip.") var seedAugmentation = false
    @Flag(help: "ImageNet normalisation: mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225) after rescaling.") var imagenetNormalize = false

    /// The same choices as training settings (what `resnet train` saves in its checkpoint).
    func apply(to s: inout TrainingSettings) throws {
        guard ResizeFilter(rawValue: resize) != nil else { throw ValidationError("--resize must be nearest or bilinear") }
        // Only what was given: a recipe (`train --recipe`) may have set the rest.
        if let imageSize { s.imageSize = imageSize }
        if let channels { s.channels = channels }
        s.resizeFilter = resize
        let aug = seedAugmentation ? AffineAugmentation.seedRecipe : AffineAugmentation(
            rotationRange: rotation, widthShiftRange: widthShift, heightShiftRange: heightShift, shearRange: shear,
            zoomRange: zoom, horizontalFlip: horizontalFlip, verticalFlip: verticalFlip)
        s.widthShiftRange = aug.widthShiftRange
        s.heightShiftRange = aug.heightShiftRange
        s.shearRange = aug.shearRange
        s.zoomRange = aug.zoomAmount  // a rejected --zoom (nan, -1) stays visible to validate()
        s.rotationRange = aug.rotationRange
        s.horizontalFlip = s.horizontalFlip || aug.horizontalFlip
        s.verticalFlip = aug.verticalFlip
        s.fillMode = fillMode
        s.cval = cval
        s.rescale = rescale
        if let randomCrop { s.randomCrop = randomCrop }
        if let randomErasing { s.randomErasing = randomErasing }
        do {
            if let randaugment { s.randAugment = try { let r = try RandAugment(parsing: randaugment); return [r.numOps, r.magnitude] }() }
            if let colorJitter { s.colorJitter = try ColorJitter.parse(colorJitter) }
        } catch DataError.invalidArgument(let message) { throw ValidationError(message) }
        if imagenetNormalize { s.mean = ImagePipeline.imageNetMean; s.std = ImagePipeline.imageNetStd }
    }

    /// The pipeline for a dataset whose images have `nativeSize` (nil for folders) and
    /// `nativeChannels`: the flags read as training settings, so `train` and `data bench` agree.
    func pipeline(nativeSize: (height: Int, width: Int)?, nativeChannels: Int) throws -> ImagePipeline {
        guard FillMode(rawValue: fillMode) != nil else { throw ValidationError("--fill-mode must be nearest, constant, reflect or wrap") }
        var s = TrainingSettings()
        try apply(to: &s)
        guard let side = imageSize ?? nativeSize?.height else {
            throw ValidationError("image folders need --image-size (the loader resizes every image to it)")
        }
        let preprocessing = Preprocessing(height: side, width: side, channels: channels ?? nativeChannels, rescale: rescale,
                                          mean: s.mean, std: s.std, resizeFilter: resize)
        let p = s.pipeline(preprocessing, training: true)
        do { try p.validate() } catch let error as DataError { throw ValidationError(error.description) }
        return p
    }
}

/// The channel count images of a dataset naturally have (1 for IDX, 3 otherwise).
func nativeChannels(_ dataset: any ImageDataset) -> Int {
    (dataset as? InMemoryDataset)?.storage.channels ?? 3
}

/// Progress on one terminal line (stderr, so stdout stays clean for scripts).
final class ProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private let label: String
    private let start = DispatchTime.now().uptimeNanoseconds
    private var lastPercent = -1
    /// On a terminal the line is redrawn in place; in a log file only every 10% gets a line.
    private let interactive = isatty(2) != 0

    init(_ label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        lock.lock(); defer { lock.unlock() }
        let percent = total > 0 ? done * 100 / total : 100
        let step = interactive ? 1 : 10
        guard percent / step != lastPercent / step || done == total, percent != lastPercent else { return }
        lastPercent = percent
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let text = "\(label) \(done)/\(total) (\(percent)%) \(Int(rate)) images/s"
        let line = interactive ? "\r" + text + (done == total ? "\n" : "") : text + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// `resnet data export`: writes a dataset as class folders of PNGs.
struct DataExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a dataset as OUT/{train,validation,test}/<class>/<n>.png.",
        discussion: """
            For Fashion-MNIST, train and validation are a stratified, seeded 9:1 split of the official 60,000 \
            training images and test is the official 10,000. Class folders are the class names made \
            filesystem-safe (T-shirt/top -> T-shirt_top).
            """)

    @OptionGroup var source: DataSourceOptions
    @Option(help: "Output folder.") var out: String
    @Option(help: "Keep only the first N images of each class in each split.") var perClass: Int?
    @Option(help: "Writer threads (default: all cores).") var workers = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Write into existing split folders.") var force = false

    func run() throws {
        let splits = try source.open()
        let progress = ProgressLine("exporting")
        let summary = try DatasetExporter.export(splits, to: out, perClass: perClass, overwrite: force, workers: workers,
                                                 progress: { progress.update($0, $1) })
        for (split, counts) in summary.counts {
            print("\(split): \(counts.reduce(0, +)) images in \(counts.count) class folders under \(out)/\(split)")
        }
        print("wrote \(summary.total) PNG files; classes: \(splits.classNames.map(ClassNames.folderSafe).joined(separator: ", "))")
    }
}

/// `resnet data inspect`: what the loader sees.
struct DataInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Print classes, images per class and split, and skipped files.")

    @OptionGroup var source: DataSourceOptions
    @Flag(help: "Decode every image and list the unreadable ones (what the loader would skip).") var check = false
    @Option(help: "Skipped files to list by name.") var listSkipped = 10

    func run() throws {
        let splits = try source.open()
        print("data: \(source.label)")
        print("layout: \(splits.layout)")
        if let size = splits.train.uniformImageSize {
            print("images: \(size.height)x\(size.width)x\(nativeChannels(splits.train)) (uint8)")
        }
        let named = splits.named
        let counts = named.map { $0.dataset.countsPerClass() }
        let nameWidth = max(5, splits.classNames.map(\.count).max() ?? 5)
        let header = "label  " + "class".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
            + named.map { $0.name.leftPadded(10) }.joined(separator: " ")
        print("\(splits.classNames.count) classes:")
        print(header)
        for (label, name) in splits.classNames.enumerated() {
            let row = String(label).leftPadded(5) + "  " + name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
                + counts.map { String($0[label]).leftPadded(10) }.joined(separator: " ")
            print(row)
        }
        print("total".leftPadded(5) + "  " + "".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
              + named.map { String($0.dataset.count).leftPadded(10) }.joined(separator: " "))
        if splits.skipped.isEmpty {
            print("skipped: none")
        } else {
            let byReason = Dictionary(grouping: splits.skipped, by: \.reason)
            print("skipped: \(splits.skipped.count) (" + byReason.keys.sorted { $0.rawValue < $1.rawValue }
                .map { "\(byReason[$0]!.count) \($0.rawValue)" }.joined(separator: ", ") + ")")
            for file in splits.skipped.prefix(max(listSkipped, 0)) { print("  \(file.path)  [\(file.reason.rawValue)]") }
            if splits.skipped.count > listSkipped { print("  … \(splits.skipped.count - listSkipped) more (--list-skipped N)") }
        }
        if check { try checkDecoding(named) }
    }

    private func checkDecoding(_ named: [(name: String, dataset: any ImageDataset)]) throws {
        final class Failures: @unchecked Sendable { let lock = NSLock(); var list: [String] = [] }
        for (name, dataset) in named {
            let failures = Failures()
            let progress = ProgressLine("checking \(name)")
            let workers = ProcessInfo.processInfo.activeProcessorCount
            final class Counter: @unchecked Sendable { let lock = NSLock(); var done = 0 }
            let counter = Counter()
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for i in stride(from: w, to: dataset.count, by: workers) {
                    do { _ = try dataset.loadImage(at: i, channels: 3, sizeHint: .fullSize) } catch {
                        failures.lock.lock(); failures.list.append("\(error)"); failures.lock.unlock()
                    }
                    counter.lock.lock(); counter.done += 1; let d = counter.done; counter.lock.unlock()
                    if d % 256 == 0 || d == dataset.count { progress.update(d, dataset.count) }
                }
            }
            print("\(name): \(dataset.count - failures.list.count) readable, \(failures.list.count) unreadable")
            for failure in failures.list.sorted() { print("  \(failure)") }
        }
    }
}

/// `resnet data bench`: loader throughput, to size worker counts and compare with training speed.
struct DataBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure loader throughput (images/s) through the full pipeline.",
        discussion: """
            Example (the seed's training augmentation on 224x224 JPEGs):
              resnet data bench --synthetic-jpeg 224 --image-size 224 --seed-augmentation --batch-size 32
            """)

    @OptionGroup var source: DataSourceOptions
    @OptionGroup var augmentation: AugmentationFlags
    @Option(help: "Benchmark on N generated textured JPEGs of this size instead of a dataset.") var syntheticJpeg: Int?
    @Option(help: "Number of synthetic JPEGs.") var syntheticCount = 1024
    @Option(help: "Batch size.") var batchSize = 32
    @Option(help: "Decoding threads (default: all cores).") var workers = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Batches to time (after 2 warm-up batches).") var batches = 60
    @Option(help: "Which split to read.") var splitName = "train"

    func run() throws {
        var temp: String?
        defer { if let temp { try? FileManager.default.removeItem(atPath: temp) } }
        let dataset: any ImageDataset
        if let side = syntheticJpeg {
            let dir = NSTemporaryDirectory() + "resnet-bench-\(UUID().uuidString)"
            temp = dir
            try writeSyntheticJPEGs(to: dir, side: side, count: syntheticCount)
            dataset = try DatasetSplits.openFolder(dir, ratios: [1, 0, 0]).train
        } else {
            let splits = try source.open()
            guard let chosen = splits.named.first(where: { $0.name == splitName }) else { throw ValidationError("no split named \(splitName)") }
            dataset = chosen.dataset
        }
        let pipeline = try augmentation.pipeline(nativeSize: dataset.uniformImageSize, nativeChannels: nativeChannels(dataset))
        let loader = try DataLoader(dataset: dataset, pipeline: pipeline,
                                    options: LoaderOptions(batchSize: batchSize, seed: source.seed, workers: workers))
        var epoch = 0
        var it = loader.epoch(epoch)
        var seen = 0, images = 0, waited = 0.0
        var start = DispatchTime.now().uptimeNanoseconds
        let warmup = 2
        while seen < warmup + batches {
            let before = it.statistics.waitSeconds
            guard let batch = try it.next() else {
                guard it.statistics.batches > 0 else { throw ValidationError("no image of this split could be read: nothing to time") }
                epoch += 1
                it = loader.epoch(epoch)
                continue
            }
            seen += 1
            if seen == warmup { start = DispatchTime.now().uptimeNanoseconds }
            if seen > warmup { images += batch.count; waited += it.statistics.waitSeconds - before }
        }
        let timed = seen - warmup
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print(String(format: "%d batches of %d (%dx%dx%d), %d workers: %.0f images/s, consumer waited %.2f of %.2f s",
                     timed, batchSize, loader.height, loader.width, pipeline.channels, workers,
                     Double(images) / seconds, waited, seconds))
    }

    /// Textured JPEGs (gradients plus noise, quality 90, 4:2:0) so decode cost resembles photos.
    private func writeSyntheticJPEGs(to dir: String, side: Int, count: Int) throws {
        var rng = SampleRandom(seed: 1)
        let progress = ProgressLine("writing synthetic JPEGs")
        for i in 0..<count {
            let cls = "class\(i % 10)"
            try FileManager.default.createDirectory(atPath: "\(dir)/\(cls)", withIntermediateDirectories: true)
            var img = PixelImage(width: side, height: side, channels: 3)
            let phase = rng.below(64)
            for y in 0..<side {
                for x in 0..<side {
                    let noise = Int(rng.next() % 48)
                    img[y, x, 0] = UInt8((x + phase + noise) % 256)
                    img[y, x, 1] = UInt8((y * 2 + noise) % 256)
                    img[y, x, 2] = UInt8(((x ^ y) + noise) % 256)
                }
            }
            let bytes = try JPEGCodec.encode(img, quality: 90, subsampling444: false)
            try FileIO.write(bytes, to: "\(dir)/\(cls)/\(i).jpg")
            progress.update(i + 1, count)
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
