@testable import ResNetTraining
import XCTest
#if canImport(FoundationXML)
import FoundationXML
#endif

final class ReportingHistoryPlotTests: XCTestCase {
    private let history: [[String: Double]] = [
        ["epoch": 0, "loss": 2.1, "val_loss": 2.3, "acc": 0.31, "val_acc": 0.28, "top5": 0.7, "val_top5": 0.66],
        ["epoch": 1, "loss": 1.6, "val_loss": .nan, "acc": 0.45, "val_acc": 0.41, "top5": 0.82, "val_top5": 0.8],
        ["epoch": 2, "loss": 1.2, "val_loss": 1.5, "acc": 0.58, "val_acc": 0.52, "top5": 0.9, "val_top5": 0.87],
    ]

    /// Polylines per panel id, as (series name, points).
    private func polylines(_ svg: String, file: StaticString = #filePath, line: UInt = #line) throws
        -> [String: [(series: String, points: [(Double, Double)])]] {
        let document = try XMLDocument(xmlString: svg, options: [])
        let root = try XCTUnwrap(document.rootElement(), file: file, line: line)
        XCTAssertEqual(root.name, "svg", file: file, line: line)
        var result: [String: [(series: String, points: [(Double, Double)])]] = [:]
        // swift-corelibs-foundation's attribute(forName:) misses attributes under a default namespace.
        func attribute(_ element: XMLElement, _ name: String) -> String? {
            element.attributes?.first { $0.name == name }?.stringValue
        }
        func walk(_ element: XMLElement, panel: String?) {
            let panel = element.name == "g" ? attribute(element, "id") ?? panel : panel
            if element.name == "polyline" {
                let points = (attribute(element, "points") ?? "")
                    .split(separator: " ").map { pair -> (Double, Double) in
                        let xy = pair.split(separator: ",").map { Double($0)! }
                        return (xy[0], xy[1])
                    }
                result[panel ?? "", default: []].append((attribute(element, "data-series") ?? "?", points))
            }
            for case let child as XMLElement in element.children ?? [] { walk(child, panel: panel) }
        }
        walk(root, panel: nil)
        return result
    }

    func testTwoPanelsWithAllSeriesAndNaNsSkipped() throws {
        let svg = HistoryPlot.svg(history: history, title: "resnet18 <CIFAR-10> & co")
        let panels = try polylines(svg)
        XCTAssertEqual(Set(panels.keys), ["panel-loss", "panel-accuracy"])
        let loss = try XCTUnwrap(panels["panel-loss"])
        XCTAssertEqual(loss.map(\.series), ["loss", "val_loss"])
        XCTAssertEqual(loss.map(\.points.count), [3, 2], "the NaN validation loss is skipped")
        let accuracy = try XCTUnwrap(panels["panel-accuracy"])
        XCTAssertEqual(accuracy.map(\.series), ["acc", "val_acc", "top5", "val_top5"])
        XCTAssertEqual(accuracy.map(\.points.count), [3, 3, 3, 3])

        // Points lie in their panel's plot area, later epochs to the right, lower loss lower down (larger y).
        for (_, points) in loss + accuracy {
            XCTAssertEqual(points.map(\.0), points.map(\.0).sorted())
        }
        for (_, points) in loss {
            for (x, y) in points {
                XCTAssertTrue((70...530).contains(x), "\(x)")
                XCTAssertTrue((70...370).contains(y), "\(y)")
            }
        }
        for (_, points) in accuracy { for (x, _) in points { XCTAssertTrue((630...1090).contains(x), "\(x)") } }
        XCTAssertLessThan(loss[0].points[0].1, loss[0].points[2].1)
        XCTAssertGreaterThan(accuracy[0].points[0].1, accuracy[0].points[2].1)

        // Title (escaped), axis labels, legend, ticks.
        XCTAssertTrue(svg.contains(">resnet18 &lt;CIFAR-10&gt; &amp; co</text>"))
        XCTAssertTrue(svg.contains(">epoch</text>"))
        XCTAssertTrue(svg.contains(">train loss</text>"))
        XCTAssertTrue(svg.contains(">validation val_top5</text>") == false)
        XCTAssertTrue(svg.contains(">validation top5</text>"))
        XCTAssertTrue(svg.contains("stroke-dasharray"))
        XCTAssertFalse(svg.lowercased().contains("nan"))
        XCTAssertFalse(svg.contains("inf"))
        let document = try XMLDocument(xmlString: svg, options: [])
        let texts = try document.nodes(forXPath: "//*[local-name()='text']").compactMap(\.stringValue)
        XCTAssertTrue(texts.contains("resnet18 <CIFAR-10> & co"))
        XCTAssertTrue(texts.contains("0") && texts.contains("1") && texts.contains("2"), "epoch ticks: \(texts)")
    }

    func testSingleEpochAndConstantSeries() throws {
        let one = HistoryPlot.svg(history: [["epoch": 1, "loss": 0.7, "acc": 0.5]], title: "one")
        var panels = try polylines(one)
        XCTAssertEqual(panels["panel-loss"]?.map(\.points.count), [1])
        XCTAssertEqual(panels["panel-accuracy"]?.map(\.points.count), [1])
        XCTAssertEqual(one.components(separatedBy: "<circle").count - 1, 2, "single points get markers")
        // The lone point sits in the middle of the plot area.
        XCTAssertEqual(panels["panel-loss"]![0].points[0].0, 300, accuracy: 0.01)
        XCTAssertEqual(panels["panel-loss"]![0].points[0].1, 220, accuracy: 0.01)

        let flat = HistoryPlot.svg(history: (0..<4).map { ["epoch": Double($0), "loss": 0, "acc": 1] }, title: "flat")
        panels = try polylines(flat)
        XCTAssertEqual(panels["panel-loss"]?.map(\.points.count), [4])
        XCTAssertFalse(flat.lowercased().contains("nan"))
        XCTAssertFalse(flat.contains("inf"))
        for (_, points) in panels["panel-loss"]! + panels["panel-accuracy"]! {
            XCTAssertTrue(points.allSatisfy { $0.1.isFinite && (70...370).contains($0.1) })
        }
    }

    func testEmptyAndAllNaNHistoriesStillDrawAxes() throws {
        for history in [[], [["epoch": 0, "loss": Double.nan]]] as [[[String: Double]]] {
            let svg = HistoryPlot.svg(history: history, title: "empty")
            XCTAssertTrue(try polylines(svg).isEmpty)
            XCTAssertEqual(svg.components(separatedBy: ">no data<").count - 1, 2)
        }
    }

    func testWritesFileAndChoosesSeries() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("history-\(UUID().uuidString).svg")
        defer { try? FileManager.default.removeItem(at: url) }
        try HistoryPlot.write(history: history, title: "m", to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), HistoryPlot.svg(history: history, title: "m"))
        let chosen = HistoryPlot.panelSeries(keys: ["epoch", "lr", "loss", "accuracy", "val_accuracy",
                                                    "val_top10", "top10", "top5", "val_loss"])
        XCTAssertEqual(chosen.loss, ["loss", "val_loss"])
        XCTAssertEqual(chosen.accuracy, ["accuracy", "val_accuracy", "top5", "top10", "val_top10"])
    }

    func testAxisTicksAreRound() {
        let axis = HistoryPlot.Axis(values: [0.31, 0.9], integer: false)
        XCTAssertEqual(axis.low, 0.2, accuracy: 1e-12)
        XCTAssertEqual(axis.high, 1.0, accuracy: 1e-12)
        XCTAssertEqual(axis.ticks.map { axis.label($0) }, ["0.2", "0.4", "0.6", "0.8", "1.0"])
        let epochs = HistoryPlot.Axis(values: [0, 89], integer: true)
        XCTAssertEqual(epochs.ticks.map { epochs.label($0) }, ["0", "20", "40", "60", "80", "100"])
    }
}
