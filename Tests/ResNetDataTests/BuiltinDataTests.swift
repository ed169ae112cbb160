import XCTest
@testable import ResNetData

/// IDX headers, Fashion-MNIST discovery, and the CIFAR-10 binary records.
final class BuiltinDataTests: XCTestCase {
    private func writeIDX(_ dir: TempDir, images: [UInt8], labels: [UInt8], count: Int, prefix: String = "train") {
        dir.write("\(prefix)-images-idx3-ubyte.gz", Gzip.compress(IDXFile.encode(dimensions: [count, 2, 3], data: images)))
        dir.write("\(prefix)-labels-idx1-ubyte.gz", Gzip.compress(IDXFile.encode(dimensions: [count], data: labels)))
    }

    func testGzipIDXRoundTripThroughFashionMNISTLoader() throws {
        let dir = TempDir()
        let images = (0..<(4 * 6)).map { UInt8($0 * 10) }
        writeIDX(dir, images: images, labels: [3, 0, 9, 3], count: 4)
        let ds = try FashionMNIST.load(.train, directory: dir.path)
        XCTAssertEqual(ds.count, 4)
        XCTAssertEqual(ds.classNames[0], "T-shirt/top")
        XCTAssertEqual(ds.classNames[9], "Ankle boot")
        XCTAssertEqual((0..<4).map { ds.label(at: $0) }, [3, 0, 9, 3])
        let second = try ds.loadImage(at: 1, channels: 1, sizeHint: .fullSize)
        XCTAssertEqual([second.height, second.width], [2, 3])
        XCTAssertEqual(second.pixels, [60, 70, 80, 90, 100, 110])
        XCTAssertEqual(try ds.loadImage(at: 1, channels: 3, sizeHint: .fullSize).pixels.prefix(6), [60, 60, 60, 70, 70, 70])
        XCTAssertEqual(ds.source(at: 2), "fashion-mnist train #2")
    }

    func testWrongMagicShortFileAndTrailingBytesAreRejected() throws {
        let good = IDXFile.encode(dimensions: [2, 2, 2], data: [UInt8](repeating: 1, count: 8))
        XCTAssertEqual(try IDXFile.parse(good, expectedDimensions: 3, source: "ok").dimensions, [2, 2, 2])
        var wrongMagic = good; wrongMagic[2] = 0x0D  // float data
        assertDataError(try IDXFile.parse(wrongMagic, expectedDimensions: 3, source: "f.idx"),
                        contains: ["f.idx", "wrong IDX magic 0x00000d03", "expected 0x00000803"])
        let labels = IDXFile.encode(dimensions: [8], data: [UInt8](repeating: 0, count: 8))
        assertDataError(try IDXFile.parse(labels, expectedDimensions: 3, source: "labels-as-images"),
                        contains: ["wrong IDX magic 0x00000801", "expected 0x00000803"])
        assertDataError(try IDXFile.parse(Array(good.dropLast(3)), expectedDimensions: 3, source: "short.idx"),
                        contains: ["short.idx", "truncated", "need 8 data bytes, found 5"])
        assertDataError(try IDXFile.parse(Array(good.prefix(9)), expectedDimensions: 3, source: "hdr.idx"),
                        contains: ["hdr.idx", "shorter than its 16-byte header"])
        assertDataError(try IDXFile.parse([0, 0], expectedDimensions: 1, source: "tiny"), contains: ["too short"])
        assertDataError(try IDXFile.parse(good + [0], expectedDimensions: 3, source: "long.idx"), contains: ["1 unexpected bytes"])
    }

    func testTruncatedGzipAndMismatchedLabelsAreErrors() throws {
        let dir = TempDir()
        let gz = Gzip.compress(IDXFile.encode(dimensions: [4, 2, 3], data: [UInt8](repeating: 7, count: 24)))
        let cut = dir.write("cut.gz", Array(gz.prefix(gz.count - 6)))
        assertDataError(try IDXFile.read(path: cut, expectedDimensions: 3), contains: [cut])
        writeIDX(dir, images: [UInt8](repeating: 0, count: 24), labels: [1, 2, 3], count: 4)
        dir.write("train-labels-idx1-ubyte.gz", Gzip.compress(IDXFile.encode(dimensions: [3], data: [1, 2, 3])))
        assertDataError(try FashionMNIST.load(.train, directory: dir.path), contains: ["3 labels", "4 images"])
        writeIDX(dir, images: [UInt8](repeating: 0, count: 24), labels: [1, 2, 10, 3], count: 4)
        assertDataError(try FashionMNIST.load(.train, directory: dir.path), contains: ["label 10 at position 2"])
    }

    func testMissingFashionMNISTTellsHowToInstall() {
        assertDataError(try FashionMNIST.splits(directory: "/nonexistent/fmnist"),
                        contains: ["Fashion-MNIST", "/nonexistent/fmnist/train-images-idx3-ubyte.gz", "apt-get install dataset-fashion-mnist"])
        assertDataError(try DatasetCatalog.open(data: nil, dataset: "imagenet"), contains: ["unknown dataset 'imagenet'"])
    }

    func testBuiltinSplitIsNineToOneStratifiedAndSeeded() throws {
        let dir = TempDir()
        let n = 100
        let labels = (0..<n).map { UInt8($0 % 10) }
        writeIDX(dir, images: [UInt8](repeating: 0, count: n * 6), labels: labels, count: n)
        writeIDX(dir, images: [UInt8](repeating: 0, count: 6 * 20), labels: (0..<20).map { UInt8($0 % 10) }, count: 20, prefix: "t10k")
        let splits = try FashionMNIST.splits(directory: dir.path, seed: 5)
        XCTAssertEqual(splits.train.countsPerClass(), Array(repeating: 9, count: 10))
        XCTAssertEqual(splits.validation?.countsPerClass(), Array(repeating: 1, count: 10))
        XCTAssertEqual(splits.test?.count, 20)
        let train = try XCTUnwrap(splits.train as? InMemoryDataset), val = try XCTUnwrap(splits.validation as? InMemoryDataset)
        XCTAssertTrue(Set(train.indices).isDisjoint(with: val.indices))
        XCTAssertEqual(val.indices, (try FashionMNIST.splits(directory: dir.path, seed: 5).validation as? InMemoryDataset)?.indices)
    }

    func testInstalledFashionMNISTTestSetIfPresent() throws {
        guard FileIO.isReadable(FashionMNIST.defaultDirectory + "/t10k-images-idx3-ubyte.gz") else {
            throw XCTSkip("dataset-fashion-mnist is not installed")
        }
        let test = try FashionMNIST.load(.test)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(test.uniformImageSize?.height, 28)
        XCTAssertEqual(test.countsPerClass(), Array(repeating: 1000, count: 10))
    }

    func testCIFAR10RecordsBecomeHWC() throws {
        let dir = TempDir()
        var record: [UInt8] = [7]
        record += (0..<1024).map { UInt8($0 % 256) }            // R plane
        record += [UInt8](repeating: 100, count: 1024)           // G plane
        record += (0..<1024).map { UInt8(255 - $0 % 256) }       // B plane
        let path = dir.write("data_batch_1.bin", record + record)
        let ds = try CIFAR10.load(files: [path], name: "cifar")
        XCTAssertEqual(ds.count, 2)
        XCTAssertEqual(ds.label(at: 1), 7)
        XCTAssertEqual(ds.classNames[7], "horse")
        let img = try ds.loadImage(at: 0, channels: 3, sizeHint: .fullSize)
        XCTAssertEqual(Array(img.pixels[0..<6]), [0, 100, 255, 1, 100, 254])
        let bad = dir.write("bad.bin", Array(record.dropLast()))
        assertDataError(try CIFAR10.load(files: [bad], name: "x"), contains: [bad, "3073-byte"])
        assertDataError(try CIFAR10.splits(directory: dir.path), contains: ["CIFAR-10", "data_batch_2.bin"])
    }
}
