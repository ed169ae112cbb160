import Foundation
import ResNetEngine

/// Accumulates classification results over batches: mean loss, top-1 and top-k accuracy, accuracy per
/// class and the confusion matrix.
///
/// Rules, so that the numbers are reproducible:
/// - The prediction (confusion matrix column, top-1) is the arg-max logit, the lowest class index on
///   ties (as `torch.argmax`). `accuracy` is the confusion matrix's trace over the sample count.
/// - Top-k counts a sample as correct when fewer than `topK` logits are *strictly* greater than the
///   true class's logit (its rank by strictly-greater count is < k). Ties therefore count in the
///   sample's favour, and `topKAccuracy >= accuracy` always.
/// - A sample with a NaN logit is wrong for top-1 and top-k and is left out of the confusion matrix
///   (it is counted in `invalidSamples` and in its class's sample count), so a diverged model never
///   scores by accident.
/// - `add(loss:)` takes the batch's *mean* loss; `loss` is the mean over samples (batches weighted by
///   their size), nil when no loss was given.
/// - With no samples, `accuracy` and `topKAccuracy` are NaN.
public struct ClassificationMetrics: Sendable, Equatable {
    public let classes: Int
    public let topK: Int
    /// Samples added.
    public private(set) var count = 0
    /// `confusion[true][predicted]`.
    public private(set) var confusion: [[Int]]
    /// Samples per true class (including invalid ones).
    public private(set) var classCounts: [Int]
    /// Samples that had a NaN logit.
    public private(set) var invalidSamples = 0
    public private(set) var top1Correct = 0
    public private(set) var topKCorrect = 0
    private var lossSum = 0.0
    private var lossSamples = 0

    public init(classes: Int, topK: Int) {
        precondition(classes > 0, "ClassificationMetrics needs at least one class")
        precondition(topK > 0, "topK must be positive")
        self.classes = classes
        self.topK = topK
        confusion = Array(repeating: Array(repeating: 0, count: classes), count: classes)
        classCounts = Array(repeating: 0, count: classes)
    }

    /// Adds a batch. `logits` is row-major `[labels.count, classes]`; `loss` is the batch's mean loss.
    public mutating func add(logits: [Float], labels: [Int32], loss: Double? = nil) {
        precondition(logits.count == labels.count * classes,
                     "ClassificationMetrics.add: \(logits.count) logits for \(labels.count) labels × \(classes) classes")
        add(logits: Tensor(shape: [labels.count, classes], values: logits), labels: labels, loss: loss)
    }

    /// Adds a batch of [labels.count, classes] logits: the backend reduces each row to its arg-max and
    /// the true class's rank (`ComputeBackend.classify`), so only two integers per sample reach the host.
    public mutating func add(logits: Tensor, labels: [Int32], loss: Double? = nil) {
        precondition(logits.shape == [labels.count, classes],
                     "ClassificationMetrics.add: logits of shape \(logits.shape) for \(labels.count) labels × \(classes) classes")
        let outcomes = Backend.current.classify(logits, labels: labels)
        for (outcome, label) in zip(outcomes, labels.map(Int.init)) {
            classCounts[label] += 1
            guard let predicted = outcome.predicted else {
                invalidSamples += 1
                continue
            }
            confusion[label][predicted] += 1
            if predicted == label { top1Correct += 1 }
            if outcome.greaterThanTruth < topK { topKCorrect += 1 }
        }
        count += labels.count
        if let loss {
            lossSum += loss * Double(labels.count)
            lossSamples += labels.count
        }
    }

    /// Adds another accumulator's counts (e.g. from another worker). Classes and k must match.
    public mutating func merge(_ other: ClassificationMetrics) {
        precondition(other.classes == classes && other.topK == topK, "merging metrics of different shapes")
        count += other.count
        invalidSamples += other.invalidSamples
        top1Correct += other.top1Correct
        topKCorrect += other.topKCorrect
        lossSum += other.lossSum
        lossSamples += other.lossSamples
        for c in 0..<classes {
            classCounts[c] += other.classCounts[c]
            for p in 0..<classes { confusion[c][p] += other.confusion[c][p] }
        }
    }

    /// Mean loss per sample, nil when no batch gave one.
    public var loss: Double? { lossSamples > 0 ? lossSum / Double(lossSamples) : nil }
    /// Top-1 accuracy in [0, 1].
    public var accuracy: Double { count > 0 ? Double(top1Correct) / Double(count) : .nan }
    /// Top-`topK` accuracy in [0, 1].
    public var topKAccuracy: Double { count > 0 ? Double(topKCorrect) / Double(count) : .nan }
    /// Top-1 accuracy for each true class, nil for a class without samples.
    public var perClassAccuracy: [Double?] {
        (0..<classes).map { c in classCounts[c] > 0 ? Double(confusion[c][c]) / Double(classCounts[c]) : nil }
    }

    /// The metrics as history keys with a prefix (`""` or `"val_"`): `loss`, `acc`, `top<k>`.
    /// NaN/missing values are left out.
    public func values(prefix: String = "") -> [String: Double] {
        var out: [String: Double] = [:]
        if let loss { out[prefix + "loss"] = loss }
        if count > 0 {
            out[prefix + "acc"] = accuracy
            out[prefix + "top\(topK)"] = topKAccuracy
        }
        return out
    }

    // MARK: - Text and JSON

    /// The confusion matrix as an aligned text table (rows: true class, columns: predicted).
    /// Row names are cut to `nameWidth`, column headers to the column width, with "…".
    /// Above `maxClasses` classes the matrix is unreadable; the most frequent confusions are listed instead.
    public func confusionTable(classNames: [String], nameWidth: Int = 16, maxClasses: Int = 30) -> String {
        let names = Self.names(classNames, classes)
        if classes > maxClasses {
            var text = "confusion matrix of \(classes) classes not shown; most frequent confusions (true → predicted):\n"
            let pairs = mostConfused(limit: 20)
            if pairs.isEmpty { return text + "  none\n" }
            let width = min(nameWidth, pairs.map { names[$0.actual].count }.max() ?? 1)
            for pair in pairs {
                text += "  " + Self.pad(Self.abbreviate(names[pair.actual], width), width, right: false)
                    + " → " + Self.abbreviate(names[pair.predicted], nameWidth) + ": \(pair.count)\n"
            }
            return text
        }
        let rowHeader = "true\\pred"
        let rowWidth = min(max(nameWidth, 4), max(rowHeader.count, names.map(\.count).max() ?? 0))
        let maxCount = confusion.joined().max() ?? 0
        let cell = max(String(maxCount).count, 5)
        var text = Self.pad(Self.abbreviate(rowHeader, rowWidth), rowWidth, right: false)
        for p in 0..<classes { text += " " + Self.pad(Self.abbreviate(names[p], cell), cell, right: true) }
        text += "\n"
        for t in 0..<classes {
            text += Self.pad(Self.abbreviate(names[t], rowWidth), rowWidth, right: false)
            for p in 0..<classes { text += " " + Self.pad(String(confusion[t][p]), cell, right: true) }
            text += "\n"
        }
        if invalidSamples > 0 { text += "(\(invalidSamples) samples with NaN logits not shown)\n" }
        return text
    }

    /// One line per class: samples, correct (top-1), accuracy (4 decimals, "-" without samples),
    /// and the most frequent wrong prediction; then a total line.
    public func perClassTable(classNames: [String], nameWidth: Int = 24) -> String {
        let names = Self.names(classNames, classes)
        let nameCol = min(max(nameWidth, 5), max(5, names.map(\.count).max() ?? 0))
        let countWidth = max(7, String(count).count)
        var text = Self.pad("class", nameCol, right: false) + " " + Self.pad("samples", countWidth, right: true)
            + " " + Self.pad("correct", countWidth, right: true) + " " + Self.pad("accuracy", 8, right: true)
            + "  most confused with\n"
        let accuracies = perClassAccuracy
        for c in 0..<classes {
            text += Self.pad(Self.abbreviate(names[c], nameCol), nameCol, right: false)
            text += " " + Self.pad(String(classCounts[c]), countWidth, right: true)
            text += " " + Self.pad(String(confusion[c][c]), countWidth, right: true)
            text += " " + Self.pad(accuracies[c].map { String(format: "%.4f", $0) } ?? "-", 8, right: true)
            var worst: (Int, Int)? = nil
            for p in 0..<classes where p != c && confusion[c][p] > 0 && confusion[c][p] > (worst?.1 ?? 0) {
                worst = (p, confusion[c][p])
            }
            if let (p, n) = worst { text += "  " + Self.abbreviate(names[p], nameWidth) + " (\(n))" }
            text += "\n"
        }
        text += Self.pad("all", nameCol, right: false) + " " + Self.pad(String(count), countWidth, right: true)
            + " " + Self.pad(String(top1Correct), countWidth, right: true) + " "
            + Self.pad(count > 0 ? String(format: "%.4f", accuracy) : "-", 8, right: true) + "\n"
        return text
    }

    /// The largest off-diagonal confusion counts, largest first (ties by true, then predicted class).
    public func mostConfused(limit: Int) -> [(actual: Int, predicted: Int, count: Int)] {
        var pairs: [(actual: Int, predicted: Int, count: Int)] = []
        for t in 0..<classes {
            for p in 0..<classes where p != t && confusion[t][p] > 0 { pairs.append((t, p, confusion[t][p])) }
        }
        pairs.sort { ($1.count, $0.actual, $0.predicted) < ($0.count, $1.actual, $1.predicted) }
        return Array(pairs.prefix(limit))
    }

    /// Everything, for `json` or a caller's own encoder. Non-finite numbers become nil (left out of the JSON).
    public func report(classNames: [String]) -> ClassificationReport {
        let names = Self.names(classNames, classes)
        let accuracies = perClassAccuracy
        func finite(_ x: Double?) -> Double? { x.flatMap { $0.isFinite ? $0 : nil } }
        return ClassificationReport(
            samples: count, invalidSamples: invalidSamples, loss: finite(loss), accuracy: finite(accuracy),
            topK: topK, topKAccuracy: finite(topKAccuracy), classNames: names,
            perClass: (0..<classes).map {
                .init(name: names[$0], samples: classCounts[$0], correct: confusion[$0][$0], accuracy: accuracies[$0])
            },
            confusion: confusion)
    }

    /// `report(classNames:)` as JSON with sorted keys (pretty-printed unless `pretty` is false).
    public func json(classNames: [String], pretty: Bool = true) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys]
        // Cannot fail: every number is finite.
        let data = try! encoder.encode(report(classNames: classNames))
        return String(decoding: data, as: UTF8.self)
    }

    static func names(_ given: [String], _ classes: Int) -> [String] {
        (0..<classes).map { $0 < given.count ? given[$0] : String($0) }
    }

    static func abbreviate(_ text: String, _ width: Int) -> String {
        guard text.count > width else { return text }
        guard width > 1 else { return String(text.prefix(width)) }
        return String(text.prefix(width - 1)) + "…"
    }

    static func pad(_ text: String, _ width: Int, right: Bool) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return right ? fill + text : text + fill
    }
}

/// `ClassificationMetrics` as an `Encodable` value.
public struct ClassificationReport: Codable, Equatable, Sendable {
    public struct PerClass: Codable, Equatable, Sendable {
        public var name: String
        public var samples: Int
        public var correct: Int
        public var accuracy: Double?
    }

    public var samples: Int
    public var invalidSamples: Int
    public var loss: Double?
    public var accuracy: Double?
    public var topK: Int
    public var topKAccuracy: Double?
    public var classNames: [String]
    public var perClass: [PerClass]
    /// `confusion[true][predicted]`.
    public var confusion: [[Int]]
}
