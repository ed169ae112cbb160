import XCTest
@testable import ResNetData

/// Folder scanning: classes, what is skipped and why, and the errors users hit.
final class FolderDatasetTests: XCTestCase {
    private func png(_ value: UInt8) throws -> [UInt8] { try PNGCodec.encode(PixelImage(width: 2, height: 2, channels: 3, fill: value)) }

    func testScanSkipsHiddenAndStrayFilesAcceptsUppercaseAndUnicode() throws {
        let dir = TempDir()
        dir.write("cat/a.png", try png(1))
        dir.write("cat/B.JPG", try JPEGCodec.encode(Pattern.smooth(width: 8, height: 8, channels: 3)))
        dir.write("cat/c.Jpeg", try JPEGCodec.encode(Pattern.smooth(width: 8, height: 8, channels: 1)))
        dir.write("cat/.DS_Store", [0, 1, 2])
        dir.write("cat/notes.txt", Array("hi".utf8))
        dir.write("dog/x.PPM", try PNMCodec.encode(Pattern.smooth(width: 2, height: 2, channels: 3)))
        dir.write("dog/nested/y.png", try png(2))
        dir.write(".ipynb_checkpoints/z.png", try png(3))
        dir.write("README.md", Array("readme".utf8))
        dir.write("Ünïcödé 猫/ä.png", try png(4))
        let scan = try FolderScanner.scan(root: dir.path)
        XCTAssertEqual(scan.classNames, ["cat", "dog", "Ünïcödé 猫"])
        XCTAssertEqual(scan.entries.map { ($0.path as NSString).lastPathComponent }, ["B.JPG", "a.png", "c.Jpeg", "y.png", "x.PPM", "ä.png"], "code-point order of relative paths: nested/ < x.PPM")
        XCTAssertEqual(scan.entries.map(\.label), [0, 0, 0, 1, 1, 2])
        let skipped = Dictionary(uniqueKeysWithValues: scan.skipped.map { (($0.path as NSString).lastPathComponent, $0.reason) })
        XCTAssertEqual(skipped, [".ipynb_checkpoints": .hidden, ".DS_Store": .hidden, "notes.txt": .notAnImage, "README.md": .strayFile])
        // The unicode-named image decodes through its path.
        let ds = FolderDataset(classNames: scan.classNames, entries: scan.entries)
        XCTAssertEqual(try ds.loadImage(at: 5, channels: 3, sizeHint: .fullSize).pixels, [UInt8](repeating: 4, count: 12))
    }

    func testEmptyClassMissingRootAndNoClassesAreClearErrors() throws {
        let dir = TempDir()
        dir.write("cat/a.png", try png(1))
        dir.mkdir("dog")
        dir.write("dog/.hidden.png", try png(1))
        assertDataError(try FolderScanner.scan(root: dir.path), contains: [dir.path + "/dog", "contains no images"])
        assertDataError(try DatasetSplits.openFolder(dir.path + "/nope"), contains: [dir.path + "/nope", "not found"])
        let empty = TempDir()
        empty.mkdir(".git")
        empty.write("stray.png", try png(1))
        assertDataError(try FolderScanner.scan(root: empty.path), contains: [empty.path, "no class folders"])
        let file = dir.write("file.png", try png(1))
        assertDataError(try FolderScanner.scan(root: file), contains: [file, "expected a folder"])
    }

    /// A dangling link used to stop the scan (and training) even without --strict.
    func testDanglingImageLinkIsSkippedByTheLoaderUnlessStrict() throws {
        let dir = TempDir()
        dir.write("cat/a.png", try png(1))
        dir.write("cat/c.png", try png(3))
        dir.write("dog/d.png", try png(4))
        let link = dir.path + "/cat/b.png"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: dir.path + "/gone.png")
        let splits = try DatasetSplits.openFolder(dir.path, ratios: [1, 0, 0])
        XCTAssertEqual(splits.train.count, 4)
        let reason = "cannot read \(link): is a symbolic link to \(dir.path)/gone.png, which does not exist"
        assertDataError(try splits.train.loadImage(at: 1, channels: 3, sizeHint: .fullSize), contains: [reason])

        final class Messages: @unchecked Sendable { var list: [String] = []; let lock = NSLock() }
        let messages = Messages()
        let loader = try DataLoader(dataset: splits.train, pipeline: .keras(height: 2, width: 2), options: LoaderOptions(batchSize: 2, workers: 2))
        loader.warningHandler = { m in messages.lock.lock(); messages.list.append(m); messages.lock.unlock() }
        for epoch in 0..<2 {
            let it = loader.epoch(epoch)
            var images = 0
            while let b = try it.next() { images += b.count }
            XCTAssertEqual(images, 3)
            XCTAssertEqual(it.statistics.skipped.map(\.source), [link])
            XCTAssertEqual(it.statistics.skipped.map(\.reason), [reason])
        }
        XCTAssertEqual(messages.list.filter { $0.contains(link) }, ["skipping " + reason], "warned once, with the path")

        let strict = try DataLoader(dataset: splits.train, pipeline: .keras(height: 2, width: 2),
                                    options: LoaderOptions(batchSize: 2, workers: 2, strict: true))
        let it = strict.epoch(0)
        XCTAssertThrowsError(try { while try it.next() != nil {} }()) { error in
            XCTAssertEqual((error as? DataError)?.description, reason)
        }
    }

    func testUnreadableFileIsAnErrorNamingIt() throws {
        if getuid() == 0 { throw XCTSkip("root can read files without read permission") }
        let dir = TempDir()
        let path = dir.write("cat/a.png", try png(1))
        chmod(path, 0)
        assertDataError(try FolderScanner.scan(root: dir.path), contains: [path, "Permission denied"])
    }

    func testPresplitLayoutIsUsedAsGivenAndAcceptsVal() throws {
        let dir = TempDir()
        for (split, classes) in [("train", ["a", "b", "c"]), ("val", ["c", "a"]), ("test", ["b"])] {
            for (i, name) in classes.enumerated() { dir.write("\(split)/\(name)/\(i).png", try png(UInt8(i))) }
        }
        dir.write("train/b/extra.png", try png(9))
        dir.mkdir("logs")
        let splits = try DatasetSplits.openFolder(dir.path, seed: 1)
        XCTAssertEqual(splits.classNames, ["a", "b", "c"])
        XCTAssertEqual(splits.train.count, 4)
        XCTAssertEqual(splits.train.countsPerClass(), [1, 2, 1])
        let validation = try XCTUnwrap(splits.validation)
        XCTAssertEqual((0..<validation.count).map { validation.label(at: $0) }, [0, 2], "val labels follow train's class order")
        XCTAssertEqual(try XCTUnwrap(splits.test).countsPerClass(), [0, 1, 0])
        XCTAssertEqual(splits.skipped.map(\.reason), [.notASplit])
        XCTAssertTrue(splits.layout.contains("val"))

        dir.write("test/zebra/1.png", try png(1))
        assertDataError(try DatasetSplits.openFolder(dir.path), contains: [dir.path + "/test/zebra", "does not exist in"])
        dir.mkdir("validation")
        assertDataError(try DatasetSplits.openFolder(dir.path), contains: ["both 'validation' and 'val'"])
    }

    func testSingleRootIsSplitPerClassWithTheSeed() throws {
        let dir = TempDir()
        for i in 0..<20 { dir.write("cats/\(i).png", try png(UInt8(i))) }
        for i in 0..<10 { dir.write("dogs/\(i).png", try png(UInt8(i))) }
        let splits = try DatasetSplits.openFolder(dir.path, seed: 3)
        XCTAssertEqual(splits.train.countsPerClass(), [16, 8])
        XCTAssertEqual(try XCTUnwrap(splits.validation).countsPerClass(), [2, 1])
        XCTAssertEqual(try XCTUnwrap(splits.test).countsPerClass(), [2, 1])
        let paths = { (d: any ImageDataset) in Set((0..<d.count).map { d.source(at: $0) }) }
        let all = paths(splits.train).union(paths(splits.validation!)).union(paths(splits.test!))
        XCTAssertEqual(all.count, 30)
        let again = try DatasetSplits.openFolder(dir.path, seed: 3)
        XCTAssertEqual(paths(again.test!), paths(splits.test!))
        let custom = try DatasetSplits.openFolder(dir.path, ratios: try StratifiedSplit.parseRatios("7:3:0"), seed: 3)
        XCTAssertEqual(custom.train.countsPerClass(), [14, 7])
        XCTAssertNil(custom.test)
    }
}
