import XCTest
@testable import ResNetData

/// `data export` writes class folders of PNGs that read back as the same images.
final class ExportTests: XCTestCase {
    func testFolderSafeNames() {
        XCTAssertEqual(ClassNames.folderSafe("T-shirt/top"), "T-shirt_top")
        XCTAssertEqual(ClassNames.folderSafe("Ankle boot"), "Ankle_boot")
        XCTAssertEqual(ClassNames.folderSafe(".hidden"), "_hidden")
        XCTAssertEqual(ClassNames.folderSafe("Éclair:1"), "Éclair_1")
        XCTAssertEqual(ClassNames.folderSafe(""), "_")
    }

    func testExportWritesSplitsPerClassLimitAndReadsBack() throws {
        let n = 40
        var pixels: [UInt8] = []
        for i in 0..<n { pixels += (0..<6).map { UInt8((i * 6 + $0) % 256) } }
        let storage = InMemoryDataset.Storage(pixels: pixels, labels: (0..<n).map { UInt8($0 % 2) }, height: 2, width: 3, channels: 1, name: "mem")
        let names = ["T-shirt/top", "Ankle boot"]
        let full = InMemoryDataset(storage: storage, classNames: names)
        let splits = try BuiltinSplits.make(trainAndValidation: full.subset(Array(0..<30)), test: full.subset(Array(30..<40)), seed: 2, name: "mem")
        let dir = TempDir()
        final class Progress: @unchecked Sendable { var last = (0, 0) }
        let progress = Progress()
        let summary = try DatasetExporter.export(splits, to: dir.path, perClass: 3, workers: 2) { progress.last = ($0, $1) }
        XCTAssertEqual(summary.counts.map(\.split), ["train", "validation", "test"])
        XCTAssertEqual(summary.counts.map(\.perClass), [[3, 3], [1, 1], [3, 3]])  // 9:1 of 15 per class leaves 1 for validation
        XCTAssertTrue(progress.last == (14, 14))

        let back = try DatasetSplits.openFolder(dir.path)
        XCTAssertEqual(back.classNames, ["Ankle_boot", "T-shirt_top"])
        XCTAssertEqual(back.train.countsPerClass(), [3, 3])
        // test/T-shirt_top holds the first 3 even-labelled test images: sources 30, 32, 34.
        let testSet = try XCTUnwrap(back.test)
        let files = (0..<testSet.count).filter { testSet.label(at: $0) == 1 }.map { (testSet.source(at: $0) as NSString).lastPathComponent }
        XCTAssertEqual(files, ["00030.png", "00032.png", "00034.png"])
        let index = try XCTUnwrap((0..<testSet.count).first { testSet.source(at: $0).hasSuffix("T-shirt_top/00032.png") })
        XCTAssertEqual(try testSet.loadImage(at: index, channels: 1, sizeHint: .fullSize).pixels, (0..<6).map { UInt8((32 * 6 + $0) % 256) })

        assertDataError(try DatasetExporter.export(splits, to: dir.path, perClass: 1), contains: ["already exists", "--force"])
        XCTAssertNoThrow(try DatasetExporter.export(splits, to: dir.path, perClass: 1, overwrite: true))
    }

    /// `data export --force --out DIR --data DIR` wrote split folders into the dataset itself.
    func testExportRefusesToWriteIntoOrAroundItsSourceFolder() throws {
        let parent = TempDir()
        let data = parent.path + "/data"
        for i in 0..<4 { parent.write("data/cat/\(i).png", try PNGCodec.encode(PixelImage(width: 2, height: 2, channels: 1, fill: UInt8(i)))) }
        let splits = try DatasetSplits.openFolder(data, ratios: [1, 0, 0])
        XCTAssertEqual(splits.sourceRoot, data)
        let link = parent.path + "/link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: data)
        let real = FileIO.resolvedPath(data)
        for (out, relation) in [(data, "is the data folder"), (data + "/", "is the data folder"), (link, "is the data folder"),
                                (data + "/cat/../", "is the data folder"), (data + "/exported", "is inside the data folder"),
                                (link + "/new/deeper", "is inside the data folder"), (parent.path, "contains the data folder"),
                                (data + "/new/../..", "contains the data folder")] {
            for force in [false, true] {
                assertDataError(try DatasetExporter.export(splits, to: out, overwrite: force),
                                contains: ["--out \(out) (", ") \(relation) \(data) (\(real))", "choose a folder outside it"])
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: data), ["cat"], "nothing was written into the data folder")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: data + "/cat").sorted(), ["0.png", "1.png", "2.png", "3.png"])
        // A sibling folder, even one whose name starts with the data folder's, is fine.
        XCTAssertEqual(try DatasetExporter.export(splits, to: data + "2", overwrite: true).total, 4)
    }
}
