@testable import ResNetTraining
import XCTest

final class ReportingCSVLoggerTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ReportingCSV-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func metrics(_ e: Double) -> [String: Double] {
        ["val_top5": 0.625 + e, "loss": 1.25 - e, "acc": 0.5 + e, "lr": 0.1, "top5": 0.75 + e,
         "val_loss": 2.5 - e, "val_acc": 0.25 + e]
    }

    func testHeaderIsEpochThenSortedNamesAndRowsAreWrittenAtOnce() throws {
        let url = directory.appendingPathComponent("log.csv")
        let logger = try CSVLogger(url: url)
        try logger.log(epoch: 0, metrics: metrics(0))
        // Flushed: readable before the logger is closed.
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8),
                       "epoch,acc,loss,lr,top5,val_acc,val_loss,val_top5\n0,0.5,1.25,0.1,0.75,0.25,2.5,0.625\n")
        try logger.log(epoch: 1, metrics: ["acc": 1.0 / 3, "loss": 1e-05, "lr": 0.01, "top5": 1,
                                           "val_acc": .nan, "val_loss": .infinity, "val_top5": 0.9])
        logger.close()
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        XCTAssertEqual(lines[2], "1,0.3333333333333333,1e-05,0.01,1.0,nan,inf,0.9")
        XCTAssertEqual(logger.columns, ["epoch", "acc", "loss", "lr", "top5", "val_acc", "val_loss", "val_top5"])
        XCTAssertThrowsError(try logger.log(epoch: 2, metrics: metrics(0)))

        let rows = try CSVLogger.read(url: url)
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[0], metrics(0).merging(["epoch": 0]) { a, _ in a })
        XCTAssertEqual(rows[1]["acc"], 1.0 / 3, "full precision round-trips")
        XCTAssertEqual(rows[1]["loss"], 1e-05)
        XCTAssertTrue(rows[1]["val_acc"]!.isNaN)
        XCTAssertEqual(rows[1]["val_loss"], .infinity)
        XCTAssertEqual(rows[1]["epoch"], 1)
    }

    func testAppendKeepsHeaderAndAddsRows() throws {
        let url = directory.appendingPathComponent("log.csv")
        do {
            let logger = try CSVLogger(url: url)
            try logger.log(epoch: 0, metrics: metrics(0))
            try logger.log(epoch: 1, metrics: metrics(0.01))
        }
        let resumed = try CSVLogger(url: url, append: true)
        XCTAssertEqual(resumed.columns?.first, "epoch", "the header is read when appending")
        try resumed.log(epoch: 2, metrics: metrics(0.02))
        resumed.close()
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertEqual(text.components(separatedBy: "epoch,").count - 1, 1, "one header only")
        let rows = try CSVLogger.read(url: url)
        XCTAssertEqual(rows.map { $0["epoch"]! }, [0, 1, 2])
        XCTAssertEqual(rows[2]["acc"], 0.5 + 0.02)

        // Without append the file starts over.
        let fresh = try CSVLogger(url: url)
        try fresh.log(epoch: 0, metrics: ["loss": 3])
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "epoch,loss\n0,3.0\n")
    }

    func testAppendToMissingOrEmptyFileWritesHeader() throws {
        let url = directory.appendingPathComponent("new.csv")
        let logger = try CSVLogger(url: url, append: true)
        try logger.log(epoch: 0, metrics: ["loss": 2])
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "epoch,loss\n0,2.0\n")
        let empty = directory.appendingPathComponent("empty.csv")
        XCTAssertTrue(FileManager.default.createFile(atPath: empty.path, contents: Data()))
        try CSVLogger(url: empty, append: true).log(epoch: 4, metrics: ["acc": 0.5])
        XCTAssertEqual(try String(contentsOf: empty, encoding: .utf8), "epoch,acc\n4,0.5\n")
    }

    func testAppendWithDifferentColumnsFailsClearly() throws {
        let url = directory.appendingPathComponent("log.csv")
        try CSVLogger(url: url).log(epoch: 0, metrics: metrics(0))
        var other = metrics(0)
        other["val_top5"] = nil
        other["top1"] = 0.5
        let resumed = try CSVLogger(url: url, append: true)
        XCTAssertThrowsError(try resumed.log(epoch: 1, metrics: other)) { error in
            guard case CSVLoggerError.columnMismatch = error else { return XCTFail("\(error)") }
            let text = "\(error)"
            XCTAssertTrue(text.contains("epoch,acc,loss,lr,top5,val_acc,val_loss,val_top5"), text)
            XCTAssertTrue(text.contains("not in the file: top1"), text)
            XCTAssertTrue(text.contains("missing: val_top5"), text)
            XCTAssertEqual((error as? LocalizedError)?.errorDescription, text)
        }
        // Only a subset (no new name) is still a mismatch on the first resumed row.
        other["top1"] = nil
        XCTAssertThrowsError(try resumed.log(epoch: 1, metrics: other))
        XCTAssertEqual(try CSVLogger.read(url: url).count, 1, "nothing was written")
    }

    func testLaterRowsMayOmitButNotAddNames() throws {
        let url = directory.appendingPathComponent("log.csv")
        let logger = try CSVLogger(url: url)
        try logger.log(epoch: 0, metrics: ["loss": 1, "val_loss": 2])
        try logger.log(epoch: 1, metrics: ["loss": 0.5]) // no validation this epoch
        XCTAssertThrowsError(try logger.log(epoch: 2, metrics: ["loss": 0.5, "acc": 1]))
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "epoch,loss,val_loss\n0,1.0,2.0\n1,0.5,\n")
        XCTAssertEqual(try CSVLogger.read(url: url), [["epoch": 0, "loss": 1, "val_loss": 2], ["epoch": 1, "loss": 0.5]])
        XCTAssertThrowsError(try CSVLogger(url: directory.appendingPathComponent("x.csv")).log(epoch: 0, metrics: ["epoch": 1]))
    }

    func testResumeDropsEpochsAfterTheCheckpoint() throws {
        let url = directory.appendingPathComponent("log.csv")
        let logger = try CSVLogger(url: url)
        for e in 0..<4 { try logger.log(epoch: e, metrics: ["loss": Double(4 - e)]) }
        logger.close()
        let resumed = try CSVLogger(url: url, append: true, keepingEpochsThrough: 1)
        try resumed.log(epoch: 2, metrics: ["loss": 1.5])
        XCTAssertEqual(try CSVLogger.read(url: url).map { $0["epoch"]! }, [0, 1, 2])
        XCTAssertEqual(try CSVLogger.read(url: url).last?["loss"], 1.5)
    }

    func testReadsKerasStyleFilesAndQuotedFields() throws {
        let url = directory.appendingPathComponent("keras.csv")
        try "epoch,\"a,b\",loss\r\n0,NA,0.5\r\n1,2,\"0.25\"\r\n\n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertEqual(try CSVLogger.read(url: url), [["epoch": 0, "loss": 0.5], ["epoch": 1, "a,b": 2, "loss": 0.25]])
        try "epoch,loss\n0,abc\n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CSVLogger.read(url: url)) { error in
            XCTAssertTrue("\(error)".contains("line 2"), "\(error)")
        }
        try "epoch,loss\n0\n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CSVLogger.read(url: url))
        XCTAssertEqual(CSVLogger.line(["x\"y", "a,b", "c"], separator: ","), "\"x\"\"y\",\"a,b\",c\n")
        XCTAssertEqual(CSVLogger.parse("\"x\"\"y\",\"a,b\",c\n", separator: ","), [["x\"y", "a,b", "c"]])
    }
}
