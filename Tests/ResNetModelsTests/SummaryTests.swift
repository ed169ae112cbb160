import Foundation
import XCTest
import ResNetModels

final class SummaryTests: XCTestCase {
    func testTableTotalsAndFLOPs() throws {
        let summary = try ResNetRegistry.make("resnet50").summary(imageSize: 224)
        let table = summary.table()
        XCTAssertTrue(table.hasPrefix("Model: \"resnet50\""))
        XCTAssertTrue(table.contains("Trainable params: 25,557,032"))
        XCTAssertTrue(table.contains("Total params: 25,610,152"))
        XCTAssertTrue(table.contains(" layer1.0.downsample.0 (Conv2D)"))
        // ResNet-50's well-known 4.1 G multiply-adds per 224x224 image.
        XCTAssertEqual(Double(summary.flops) / 2e9, 4.1, accuracy: 0.05)
        XCTAssertEqual(summary.layers.first?.outputShape, [112, 112, 64])
    }

    func testDotGraphHasEveryLayerAndTheShortcutEdges() throws {
        let summary = try ResNetRegistry.make("resnet18").summary(imageSize: 64)
        let dot = summary.dot()
        XCTAssertTrue(dot.hasPrefix("digraph \"resnet18\" {"))
        XCTAssertTrue(dot.contains("\"layer2.0.downsample.1\" -> \"layer2.0.add\";"))
        XCTAssertTrue(dot.contains("\"layer1.0.bn2\" -> \"layer1.0.add\";"))
        XCTAssertEqual(dot.components(separatedBy: "[label=").count - 1, summary.layers.count + 1)
        // Render with Graphviz when it is installed, as a user would.
        let dotBinary = "/usr/bin/dot"
        guard FileManager.default.isExecutableFile(atPath: dotBinary) else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("summary-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("model.dot"), output = dir.appendingPathComponent("model.svg")
        try dot.write(to: input, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: dotBinary)
        p.arguments = ["-Tsvg", input.path, "-o", output.path]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let svg = try String(contentsOf: output, encoding: .utf8)
        XCTAssertTrue(svg.contains("layer4.1.add"))
    }
}
