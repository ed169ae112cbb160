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
}
