import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Keras `fit`-style progress bar for one epoch (or any counted loop).
///
/// On a terminal it redraws a single line in place ("\r", the line, then clear-to-end-of-line):
///
///     412/1500 [=====>........................] - ETA: 1:02 - loss: 0.4213 - acc: 0.8512 - 312 img/s
///
/// and `finish` leaves the final line with the elapsed time and time per step, then a newline:
///
///     1500/1500 [==============================] - 58s 39ms/step - loss: 0.4102 - acc: 0.8544
///
/// When the output is not a terminal (a log file, CI), it prints a plain line (no "\r") at most every
/// `plainInterval` seconds, plus the final line, so logs stay short.
///
/// Values print with 4 decimals (`0.4213`); like Keras, non-zero values smaller than 1e-3 in magnitude
/// print as `1.0000e-05` so a small learning rate does not read as zero. `extra` is appended as is.
/// The caller passes the values to show (usually running means); the bar does no averaging.
///
/// Not thread-safe: call it from the thread that runs the loop.
public final class ProgressBar {
    public let total: Int?
    public let title: String?
    public let width: Int
    public let isTerminal: Bool
    public let plainInterval: TimeInterval
    /// On a terminal, redraws closer together than this are skipped (the final one never is).
    public let redrawInterval: TimeInterval

    private let output: (String) -> Void
    private let clock: () -> TimeInterval
    private let start: TimeInterval
    private var lastDraw: TimeInterval?
    private var lastPlain: TimeInterval
    private var current = 0
    private var titleShown = false
    public private(set) var isFinished = false

    /// Writes to standard output and flushes, so the bar shows even when stdout is buffered.
    public static let standardOutput: (String) -> Void = { text in
        fputs(text, stdout)
        fflush(stdout)
    }

    /// Seconds from a monotonic clock (system uptime): wall-clock jumps do not disturb ETAs.
    public static let monotonicClock: () -> TimeInterval = { ProcessInfo.processInfo.systemUptime }

    /// - Parameters:
    ///   - total: the number of steps, or nil when unknown (the bar then shows `412/Unknown`).
    ///   - title: printed once on its own line before the first bar (e.g. "Epoch 3/90").
    ///   - width: characters between the brackets.
    ///   - output: receives every piece of text; inject a closure to capture it in tests.
    ///   - isTerminal: redraw in place (true) or print throttled plain lines (false).
    ///   - plainInterval: the least time between two plain lines when not on a terminal.
    ///   - redrawInterval: the least time between two redraws on a terminal.
    ///   - clock: seconds from any fixed origin; the start time is read here, in `init`.
    public init(total: Int?, title: String? = nil, width: Int = 30,
                output: @escaping (String) -> Void = ProgressBar.standardOutput,
                isTerminal: Bool = isatty(STDOUT_FILENO) != 0,
                plainInterval: TimeInterval = 10, redrawInterval: TimeInterval = 0.05,
                clock: @escaping () -> TimeInterval = ProgressBar.monotonicClock) {
        precondition(total.map { $0 >= 0 } ?? true, "ProgressBar total must not be negative")
        self.total = total
        self.title = title
        self.width = max(1, width)
        self.output = output
        self.isTerminal = isTerminal
        self.plainInterval = plainInterval
        self.redrawInterval = redrawInterval
        self.clock = clock
        self.start = clock()
        self.lastPlain = start
    }

    /// Reports that `current` steps are done. On a terminal the line is redrawn (throttled by
    /// `redrawInterval`); otherwise a plain line is printed if `plainInterval` has passed since the
    /// start or the previous plain line. Ignored after `finish`.
    public func update(_ current: Int, values: [(String, Double)], extra: String? = nil) {
        guard !isFinished else { return }
        self.current = current
        let now = clock()
        if isTerminal {
            if let last = lastDraw, now - last < redrawInterval { return }
            lastDraw = now
            emit("\r" + line(now: now, finished: false, values: values, extra: extra) + "\u{1B}[K")
        } else {
            guard now - lastPlain >= plainInterval else { return }
            lastPlain = now
            emit(line(now: now, finished: false, values: values, extra: extra) + "\n")
        }
    }

    /// Prints the final line (count = `total`, or the last count when the total is unknown) with the
    /// elapsed time and the time per step, and ends it with a newline. Later calls do nothing.
    public func finish(values: [(String, Double)], extra: String? = nil) {
        guard !isFinished else { return }
        isFinished = true
        if let total { current = total }
        let text = line(now: clock(), finished: true, values: values, extra: extra)
        emit(isTerminal ? "\r" + text + "\u{1B}[K\n" : text + "\n")
    }

    private func emit(_ text: String) {
        if !titleShown, let title {
            titleShown = true
            output(title + "\n")
        }
        output(text)
    }

    /// The line without any control characters.
    func line(now: TimeInterval, finished: Bool, values: [(String, Double)], extra: String?) -> String {
        let elapsed = max(0, now - start)
        var text: String
        if let total {
            let digits = String(total).count
            let count = String(current)
            text = String(repeating: " ", count: max(0, digits - count.count)) + count + "/\(total) "
            text += bar(fraction: total == 0 ? 1 : Double(min(max(current, 0), total)) / Double(total),
                        done: current >= total)
        } else {
            text = "\(current)/Unknown"
        }
        let perStep = current > 0 ? elapsed / Double(current) : 0
        if !finished, let total, current < total {
            text += current > 0 ? " - ETA: " + ProgressBar.clockTime(perStep * Double(total - current)) : " - ETA: ?"
        } else {
            text += " - " + ProgressBar.elapsed(elapsed)
            if current > 0 { text += " " + ProgressBar.perStep(perStep) }
        }
        for (name, value) in values { text += " - \(name): " + ProgressBar.format(value) }
        if let extra, !extra.isEmpty { text += " - " + extra }
        return text
    }

    /// `[=====>......]` as Keras draws it: `=`s for the finished part, `>` at the head until done.
    func bar(fraction: Double, done: Bool) -> String {
        let filled = min(width, Int(Double(width) * fraction))
        var inside = ""
        if filled > 0 {
            inside += String(repeating: "=", count: filled - 1) + (done ? "=" : ">")
        }
        inside += String(repeating: ".", count: width - filled)
        return "[" + inside + "]"
    }

    /// 4 decimals, or `%.4e` for non-zero magnitudes below 1e-3 (as Keras).
    static func format(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        if value != 0 && abs(value) < 1e-3 { return String(format: "%.4e", value) }
        return String(format: "%.4f", value)
    }

    /// `m:ss` below an hour, `h:mm:ss` above.
    static func clockTime(_ seconds: TimeInterval) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%d:%02d:%02d", s / 3600, (s % 3600) / 60, s % 60) }
        return String(format: "%d:%02d", s / 60, s % 60)
    }

    /// Keras's elapsed field: whole seconds (`58s`).
    static func elapsed(_ seconds: TimeInterval) -> String {
        "\(Int(seconds.rounded()))s"
    }

    /// Keras's time per step: `2s/step`, `39ms/step` or `850us/step`.
    static func perStep(_ seconds: TimeInterval) -> String {
        if seconds >= 1 { return "\(Int(seconds.rounded()))s/step" }
        if seconds >= 1e-3 { return "\(Int((seconds * 1e3).rounded()))ms/step" }
        return "\(Int((seconds * 1e6).rounded()))us/step"
    }
}
