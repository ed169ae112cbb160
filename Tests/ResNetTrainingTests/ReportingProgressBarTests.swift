@testable import ResNetTraining
import XCTest

/// A clock the test moves by hand, and an output that keeps every write.
private final class FakeClock {
    var now: TimeInterval = 100
    var function: () -> TimeInterval { { [unowned self] in self.now } }
}

private final class Capture {
    var pieces: [String] = []
    var text: String { pieces.joined() }
    var sink: (String) -> Void { { [unowned self] in self.pieces.append($0) } }
}

final class ReportingProgressBarTests: XCTestCase {
    func testTerminalRedrawsInPlaceWithBarETAAndValues() {
        let clock = FakeClock(), out = Capture()
        let bar = ProgressBar(total: 1500, title: "Epoch 1/3", output: out.sink, isTerminal: true, clock: clock.function)
        XCTAssertTrue(out.pieces.isEmpty, "nothing is written before the first update")
        clock.now += 41.2 // 0.1 s/step at 412 steps: ETA 1088 · 0.1 = 108.8 s → 1:49
        bar.update(412, values: [("loss", 0.42131), ("acc", 0.85119), ("top5", 0.99312)], extra: "312 img/s")
        XCTAssertEqual(out.pieces.count, 2)
        XCTAssertEqual(out.pieces[0], "Epoch 1/3\n")
        // 412/1500 of 30 = 8.24 → 8 cells: 7 '=' and the '>' head, then 22 '.'
        XCTAssertEqual(out.pieces[1],
                       "\r 412/1500 [=======>......................] - ETA: 1:49 - loss: 0.4213 - acc: 0.8512"
                       + " - top5: 0.9931 - 312 img/s\u{1B}[K")

        clock.now += 0.01 // inside the redraw interval: skipped
        bar.update(413, values: [("loss", 0.4)])
        XCTAssertEqual(out.pieces.count, 2)
        clock.now += 0.1
        bar.update(750, values: [("loss", 0.4)], extra: "data wait 12%")
        XCTAssertEqual(out.pieces.count, 3)
        XCTAssertTrue(out.pieces[2].hasPrefix("\r 750/1500 [==============>...............] - ETA: "), out.pieces[2])
        XCTAssertTrue(out.pieces[2].hasSuffix(" - loss: 0.4000 - data wait 12%\u{1B}[K"))

        clock.now = 100 + 150 // 150 s over 1500 steps: 100 ms/step
        bar.finish(values: [("loss", 0.41024), ("acc", 0.8544)])
        XCTAssertEqual(out.pieces.last,
                       "\r1500/1500 [==============================] - 150s 100ms/step - loss: 0.4102 - acc: 0.8544\u{1B}[K\n")
        bar.finish(values: [])
        bar.update(1, values: [])
        XCTAssertEqual(out.pieces.count, 4, "finish is final")
        XCTAssertEqual(out.text.filter { $0 == "\n" }.count, 2, "the title line and the final line")
    }

    func testPlainOutputIsThrottledAndHasNoCarriageReturns() {
        let clock = FakeClock(), out = Capture()
        let bar = ProgressBar(total: 40, output: out.sink, isTerminal: false, plainInterval: 10, clock: clock.function)
        for step in 1...35 {
            clock.now += 1
            bar.update(step, values: [("loss", 1.0 / Double(step))])
        }
        // Lines at 10, 20 and 30 seconds only.
        XCTAssertEqual(out.pieces.count, 3)
        XCTAssertEqual(out.pieces[0], "10/40 [======>.......................] - ETA: 0:30 - loss: 0.1000\n")
        XCTAssertTrue(out.pieces[1].hasPrefix("20/40 [==============>...............] - ETA: 0:20"))
        XCTAssertTrue(out.pieces[2].hasPrefix("30/40 "))
        clock.now += 5
        bar.finish(values: [("loss", 0.025)], extra: "100 img/s")
        XCTAssertEqual(out.pieces.count, 4)
        XCTAssertEqual(out.pieces[3], "40/40 [==============================] - 40s 1s/step - loss: 0.0250 - 100 img/s\n")
        XCTAssertFalse(out.text.contains("\r"))
        XCTAssertFalse(out.text.contains("\u{1B}"))
        XCTAssertTrue(out.text.split(separator: "\n").allSatisfy { !$0.isEmpty })
    }

    func testShortPlainRunPrintsOnlyTheFinalLine() {
        let clock = FakeClock(), out = Capture()
        let bar = ProgressBar(total: 3, title: "Validation", output: out.sink, isTerminal: false, clock: clock.function)
        for step in 1...3 { clock.now += 0.5; bar.update(step, values: []) }
        bar.finish(values: [("val_loss", 2)])
        XCTAssertEqual(out.text, "Validation\n3/3 [==============================] - 2s 500ms/step - val_loss: 2.0000\n")
    }

    func testUnknownTotal() {
        let clock = FakeClock(), out = Capture()
        let bar = ProgressBar(total: nil, output: out.sink, isTerminal: true, clock: clock.function)
        clock.now += 3
        bar.update(7, values: [("loss", 0.5)])
        XCTAssertEqual(out.pieces[0], "\r7/Unknown - 3s 429ms/step - loss: 0.5000\u{1B}[K")
        clock.now += 1
        bar.finish(values: [])
        XCTAssertEqual(out.pieces[1], "\r7/Unknown - 4s 571ms/step\u{1B}[K\n")
    }

    func testFormatting() {
        XCTAssertEqual(ProgressBar.clockTime(62), "1:02")
        XCTAssertEqual(ProgressBar.clockTime(7), "0:07")
        XCTAssertEqual(ProgressBar.clockTime(3725), "1:02:05")
        XCTAssertEqual(ProgressBar.perStep(2.4), "2s/step")
        XCTAssertEqual(ProgressBar.perStep(0.0391), "39ms/step")
        XCTAssertEqual(ProgressBar.perStep(0.0005), "500us/step")
        XCTAssertEqual(ProgressBar.format(0.42134), "0.4213")
        XCTAssertEqual(ProgressBar.format(12), "12.0000")
        XCTAssertEqual(ProgressBar.format(0), "0.0000")
        XCTAssertEqual(ProgressBar.format(1e-5), "1.0000e-05")
        XCTAssertEqual(ProgressBar.format(.nan), "nan")
        let bar = ProgressBar(total: 10, width: 10, output: { _ in }, isTerminal: false)
        XCTAssertEqual(bar.bar(fraction: 0, done: false), "[..........]")
        XCTAssertEqual(bar.bar(fraction: 0.05, done: false), "[..........]")
        XCTAssertEqual(bar.bar(fraction: 0.1, done: false), "[>.........]")
        XCTAssertEqual(bar.bar(fraction: 1, done: true), "[==========]")
    }

    func testZeroStepsBeforeFirstUpdateShowUnknownETA() {
        let clock = FakeClock(), out = Capture()
        let bar = ProgressBar(total: 5, width: 5, output: out.sink, isTerminal: true, clock: clock.function)
        bar.update(0, values: [])
        XCTAssertEqual(out.pieces[0], "\r0/5 [.....] - ETA: ?\u{1B}[K")
    }
}
