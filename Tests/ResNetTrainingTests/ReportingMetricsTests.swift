@testable import ResNetTraining
import XCTest

/// Seven samples over five classes (class 4 never occurs; its logit is always -9):
///
///     #  logits (classes 0-3)   label  argmax  strictly greater than the true logit
///     1  [2, 1, 0, -1]          0      0       0            top-1 ✓ top-2 ✓ top-3 ✓
///     2  [0.5, 3, 1, 0]         2      1       1 (3)        ✗     ✓     ✓
///     3  [1, 1, 0, 0]           1      0 (tie) 0            ✗     ✓     ✓   (ties count for the sample)
///     4  [0, 1, 2, 3]           0      3       3            ✗     ✗     ✗
///     5  [0, 0, 5, 1]           2      2       0            ✓     ✓     ✓
///     6  [4, 3, 2, 1]           3      0       3            ✗     ✗     ✗
///     7  [0, 2, 3, 1.5]         3      2       2 (2, 3)     ✗     ✗     ✓
///
/// Batch 1 is samples 1-4 with mean loss 1.0, batch 2 samples 5-7 with mean loss 2.0:
/// loss = (4·1 + 3·2)/7 = 10/7; top-1 = 2/7; top-2 = 4/7; top-3 = 5/7.
/// Per class: 0 → 1/2 (samples 1, 4), 1 → 0/1, 2 → 1/2 (2, 5), 3 → 0/2 (6, 7), 4 → none.
final class ReportingMetricsTests: XCTestCase {
    private let rows: [[Float]] = [
        [2, 1, 0, -1], [0.5, 3, 1, 0], [1, 1, 0, 0], [0, 1, 2, 3], [0, 0, 5, 1], [4, 3, 2, 1], [0, 2, 3, 1.5],
    ]
    private let labels: [Int32] = [0, 2, 1, 0, 2, 3, 3]
    private let names = ["cat", "dog", "airplane_with_a_long_name", "ship", "truck"]

    private func metrics(topK: Int) -> ClassificationMetrics {
        var m = ClassificationMetrics(classes: 5, topK: topK)
        m.add(logits: rows[0..<4].flatMap { $0 + [-9] }, labels: Array(labels[0..<4]), loss: 1.0)
        m.add(logits: rows[4...].flatMap { $0 + [-9] }, labels: Array(labels[4...]), loss: 2.0)
        return m
    }

    func testHandComputedNumbers() throws {
        let m = metrics(topK: 3)
        XCTAssertEqual(m.count, 7)
        XCTAssertEqual(try XCTUnwrap(m.loss), 10.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(m.accuracy, 2.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(m.topKAccuracy, 5.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(metrics(topK: 2).topKAccuracy, 4.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(metrics(topK: 1).topKAccuracy, 3.0 / 7, accuracy: 1e-12, "sample 3's tie counts for top-k, not top-1")
        XCTAssertEqual(metrics(topK: 5).topKAccuracy, 1)
        XCTAssertEqual(m.perClassAccuracy, [0.5, 0, 0.5, 0, nil])
        XCTAssertEqual(m.confusion, [
            [1, 0, 0, 1, 0],
            [1, 0, 0, 0, 0],
            [0, 1, 1, 0, 0],
            [1, 0, 1, 0, 0],
            [0, 0, 0, 0, 0],
        ])
        XCTAssertEqual(m.classCounts, [2, 1, 2, 2, 0])
        let values = m.values(prefix: "val_")
        XCTAssertEqual(Set(values.keys), ["val_loss", "val_acc", "val_top3"])
        XCTAssertEqual(values["val_top3"]!, 5.0 / 7, accuracy: 1e-12)
    }

    func testMergeEqualsOneAccumulator() {
        var a = ClassificationMetrics(classes: 5, topK: 3), b = ClassificationMetrics(classes: 5, topK: 3)
        a.add(logits: rows[0..<4].flatMap { $0 + [-9] }, labels: Array(labels[0..<4]), loss: 1.0)
        b.add(logits: rows[4...].flatMap { $0 + [-9] }, labels: Array(labels[4...]), loss: 2.0)
        a.merge(b)
        XCTAssertEqual(a, metrics(topK: 3))
    }

    func testEmptyNoLossAndNaNLogits() {
        var m = ClassificationMetrics(classes: 3, topK: 2)
        XCTAssertTrue(m.accuracy.isNaN)
        XCTAssertNil(m.loss)
        XCTAssertEqual(m.perClassAccuracy, [nil, nil, nil])
        XCTAssertTrue(m.values().isEmpty)
        m.add(logits: [.nan, .nan, .nan, 1, .nan, 0, 0, 1, 2], labels: [0, 1, 2])
        XCTAssertNil(m.loss)
        XCTAssertEqual(m.count, 3)
        XCTAssertEqual(m.invalidSamples, 2)
        XCTAssertEqual(m.accuracy, 1.0 / 3, accuracy: 1e-12, "NaN rows are wrong")
        XCTAssertEqual(m.topKAccuracy, 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(m.confusion, [[0, 0, 0], [0, 0, 0], [0, 0, 1]])
        XCTAssertEqual(m.perClassAccuracy, [0, 0, 1])
        // Infinite logits are ordinary.
        var inf = ClassificationMetrics(classes: 2, topK: 1)
        inf.add(logits: [-.infinity, .infinity], labels: [1])
        XCTAssertEqual(inf.accuracy, 1)
    }

    func testConfusionTableIsAlignedAndAbbreviates() {
        let table = metrics(topK: 3).confusionTable(classNames: names, nameWidth: 9)
        let lines = table.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 6)
        XCTAssertEqual(Set(lines.map(\.count)).count, 1, "aligned:\n\(table)")
        XCTAssertEqual(lines[0], "true\\pred   cat   dog airp…  ship truck")
        XCTAssertEqual(lines[3], "airplane…     0     1     1     0     0")
        XCTAssertEqual(lines[5], "truck         0     0     0     0     0")

        let big = metrics(topK: 3).confusionTable(classNames: names, maxClasses: 4)
        XCTAssertTrue(big.hasPrefix("confusion matrix of 5 classes not shown"))
        XCTAssertEqual(big.split(separator: "\n").count, 1 + 5, big)
        XCTAssertTrue(big.split(separator: "\n")[1].hasPrefix("  cat "), big)
        XCTAssertTrue(big.split(separator: "\n")[1].hasSuffix(" → ship: 1"), big)
    }

    func testPerClassTable() {
        let table = metrics(topK: 3).perClassTable(classNames: names, nameWidth: 12)
        let lines = table.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 7)
        XCTAssertEqual(lines[0], "class        samples correct accuracy  most confused with")
        XCTAssertEqual(lines[1], "cat                2       1   0.5000  ship (1)")
        XCTAssertEqual(lines[3], "airplane_wi…       2       1   0.5000  dog (1)")
        XCTAssertEqual(lines[5], "truck              0       0        -")
        XCTAssertEqual(lines[6], "all                7       2   0.2857")
    }

    func testJSONReport() throws {
        let m = metrics(topK: 3)
        let json = m.json(classNames: ["cat", "dog"]) // missing names become indices
        let report = try JSONDecoder().decode(ClassificationReport.self, from: Data(json.utf8))
        XCTAssertEqual(report, m.report(classNames: ["cat", "dog", "2", "3", "4"]))
        XCTAssertEqual(report.samples, 7)
        XCTAssertEqual(report.topK, 3)
        XCTAssertEqual(report.accuracy!, 2.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(report.perClass[4], .init(name: "4", samples: 0, correct: 0, accuracy: nil))
        XCTAssertEqual(report.confusion, m.confusion)
        XCTAssertTrue(json.contains("\"topKAccuracy\""))
        // Empty metrics have no accuracy: encoded without the key rather than failing on NaN.
        let empty = ClassificationMetrics(classes: 2, topK: 1).json(classNames: [], pretty: false)
        XCTAssertFalse(empty.contains("accuracy\":"), empty)
    }
}
