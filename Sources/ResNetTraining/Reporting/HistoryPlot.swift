import Foundation

/// Draws a training history as a standalone SVG (`history.svg`): two panels side by side,
/// loss (train and validation) and accuracy (train and validation, plus any top-k series) per epoch,
/// with axes, ticks, labels, a legend under each panel and the model name in the title.
///
/// Input rows are as `CSVLogger.read` returns them: `epoch`, `loss`, `acc` (or `accuracy`),
/// `val_loss`, `val_acc`, `top5`, `val_top5`, ... Rows without `epoch` are numbered 1, 2, ...
/// Non-finite values are skipped (the line joins the neighbouring points); every point also gets a
/// marker, so a single epoch shows as a dot. Constant series and single epochs get a padded range.
public enum HistoryPlot {
    /// The series each panel shows: the loss panel `loss`, `val_loss`; the accuracy panel
    /// `acc`/`accuracy`, `val_acc`/`val_accuracy`, then `topK`/`val_topK` sorted by K.
    public static func panelSeries(keys: Set<String>) -> (loss: [String], accuracy: [String]) {
        let loss = ["loss", "val_loss"].filter(keys.contains)
        var accuracy = ["acc", "accuracy", "val_acc", "val_accuracy"].filter(keys.contains)
        func topK(_ key: String) -> Int? {
            let name = key.hasPrefix("val_") ? String(key.dropFirst(4)) : key
            guard name.hasPrefix("top"), let k = Int(name.dropFirst(3)), k > 0 else { return nil }
            return k
        }
        let tops = keys.filter { topK($0) != nil }.sorted {
            (topK($0)!, $0.hasPrefix("val_") ? 1 : 0) < (topK($1)!, $1.hasPrefix("val_") ? 1 : 0)
        }
        accuracy += tops
        return (loss, accuracy)
    }

    /// Writes `svg(history:title:)` to `url` (atomically).
    public static func write(history: [[String: Double]], title: String, to url: URL) throws {
        try AtomicFile.write(Data(svg(history: history, title: title).utf8), to: url)
    }

    static let panelWidth = 560.0
    static let height = 470.0
    static let plotLeft = 70.0, plotRight = 530.0, plotTop = 70.0, plotBottom = 370.0
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// The SVG document text.
    public static func svg(history: [[String: Double]], title: String) -> String {
        let epochs = history.enumerated().map { $0.element["epoch"] ?? Double($0.offset + 1) }
        let keys = Set(history.flatMap { $0.keys })
        let (lossKeys, accKeys) = panelSeries(keys: keys)
        let width = 2 * panelWidth
        var svg = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(width))" height="\(fmt(height))" \
        viewBox="0 0 \(fmt(width)) \(fmt(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">

        """
        svg += "<title>\(escape(title)) training history</title>\n"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" fill=\"white\"/>\n"
        svg += "<text x=\"\(fmt(width / 2))\" y=\"28\" text-anchor=\"middle\" font-size=\"18\" font-weight=\"bold\">"
            + "\(escape(title))</text>\n"
        svg += panel(index: 0, name: "Loss", yLabel: "loss", keys: lossKeys, epochs: epochs, history: history)
        svg += panel(index: 1, name: "Accuracy", yLabel: "accuracy", keys: accKeys, epochs: epochs, history: history)
        svg += "</svg>\n"
        return svg
    }

    static func panel(index: Int, name: String, yLabel: String, keys: [String], epochs: [Double],
                      history: [[String: Double]]) -> String {
        let x0 = Double(index) * panelWidth
        var out = "<g class=\"panel\" id=\"panel-\(yLabel)\">\n"
        out += "<text x=\"\(fmt(x0 + (plotLeft + plotRight) / 2))\" y=\"55\" text-anchor=\"middle\" "
            + "font-size=\"14\" font-weight=\"bold\">\(name)</text>\n"
        // Points per series, finite values only.
        let series: [(key: String, points: [(Double, Double)])] = keys.map { key in
            (key, zip(epochs, history).compactMap { epoch, row in
                guard let v = row[key], v.isFinite, epoch.isFinite else { return nil }
                return (epoch, v)
            })
        }.filter { !$0.points.isEmpty }
        let all = series.flatMap { $0.points }
        let left = x0 + plotLeft, right = x0 + plotRight
        out += "<rect x=\"\(fmt(left))\" y=\"\(fmt(plotTop))\" width=\"\(fmt(right - left))\" "
            + "height=\"\(fmt(plotBottom - plotTop))\" fill=\"none\" stroke=\"#333\" stroke-width=\"1\"/>\n"
        guard !all.isEmpty else {
            out += "<text x=\"\(fmt((left + right) / 2))\" y=\"\(fmt((plotTop + plotBottom) / 2))\" "
                + "text-anchor=\"middle\" fill=\"#888\">no data</text>\n</g>\n"
            return out
        }
        let xAxis = Axis(values: all.map { $0.0 }, integer: true)
        let yAxis = Axis(values: all.map { $0.1 }, integer: false)
        func px(_ x: Double) -> Double { left + (x - xAxis.low) / (xAxis.high - xAxis.low) * (right - left) }
        func py(_ y: Double) -> Double { plotBottom - (y - yAxis.low) / (yAxis.high - yAxis.low) * (plotBottom - plotTop) }

        // Grid and ticks.
        out += "<g class=\"y-ticks\" stroke=\"#ddd\">\n"
        for t in yAxis.ticks {
            out += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(py(t)))\" x2=\"\(fmt(right))\" y2=\"\(fmt(py(t)))\"/>\n"
        }
        out += "</g>\n<g class=\"y-labels\" text-anchor=\"end\">\n"
        for t in yAxis.ticks {
            out += "<line x1=\"\(fmt(left - 5))\" y1=\"\(fmt(py(t)))\" x2=\"\(fmt(left))\" y2=\"\(fmt(py(t)))\" stroke=\"#333\"/>"
            out += "<text x=\"\(fmt(left - 8))\" y=\"\(fmt(py(t) + 4))\">\(yAxis.label(t))</text>\n"
        }
        out += "</g>\n<g class=\"x-labels\" text-anchor=\"middle\">\n"
        let minEpoch = all.map { $0.0 }.min()!
        for t in xAxis.ticks where t >= 0 || minEpoch < 0 { // no epoch -1 tick beside a lone epoch 0
            out += "<line x1=\"\(fmt(px(t)))\" y1=\"\(fmt(plotBottom))\" x2=\"\(fmt(px(t)))\" y2=\"\(fmt(plotBottom + 5))\" stroke=\"#333\"/>"
            out += "<text x=\"\(fmt(px(t)))\" y=\"\(fmt(plotBottom + 19))\">\(xAxis.label(t))</text>\n"
        }
        out += "</g>\n"
        out += "<text x=\"\(fmt((left + right) / 2))\" y=\"\(fmt(plotBottom + 40))\" text-anchor=\"middle\">epoch</text>\n"
        let yMid = (plotTop + plotBottom) / 2
        out += "<text x=\"\(fmt(x0 + 18))\" y=\"\(fmt(yMid))\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 \(fmt(x0 + 18)) \(fmt(yMid)))\">\(yLabel)</text>\n"

        // Series: training solid, validation dashed; same colour for a metric and its val_ twin.
        var colours: [String: String] = [:]
        for (key, points) in series {
            let base = key.hasPrefix("val_") ? String(key.dropFirst(4)) : key
            let colour = colours[base] ?? palette[colours.count % palette.count]
            colours[base] = colour
            let dash = key.hasPrefix("val_") ? " stroke-dasharray=\"6 4\"" : ""
            let coordinates = points.map { "\(fmt(px($0.0))),\(fmt(py($0.1)))" }.joined(separator: " ")
            out += "<polyline class=\"series\" data-series=\"\(escape(key))\" fill=\"none\" stroke=\"\(colour)\" "
                + "stroke-width=\"2\"\(dash) points=\"\(coordinates)\"/>\n"
            out += "<g class=\"markers\" fill=\"\(colour)\">"
            for (x, y) in points { out += "<circle cx=\"\(fmt(px(x)))\" cy=\"\(fmt(py(y)))\" r=\"2.5\"/>" }
            out += "</g>\n"
        }

        // Legend under the axis label.
        out += "<g class=\"legend\">\n"
        var lx = left
        var ly = plotBottom + 68
        for (key, _) in series {
            let text = legendName(key)
            let itemWidth = 30 + Double(text.count) * 7 + 18
            if lx > left && lx + itemWidth - 18 > right { lx = left; ly += 18 }
            let base = key.hasPrefix("val_") ? String(key.dropFirst(4)) : key
            let dash = key.hasPrefix("val_") ? " stroke-dasharray=\"6 4\"" : ""
            out += "<line x1=\"\(fmt(lx))\" y1=\"\(fmt(ly - 4))\" x2=\"\(fmt(lx + 24))\" y2=\"\(fmt(ly - 4))\" "
                + "stroke=\"\(colours[base]!)\" stroke-width=\"2\"\(dash)/>"
            out += "<text x=\"\(fmt(lx + 30))\" y=\"\(fmt(ly))\">\(escape(text))</text>\n"
            lx += itemWidth
        }
        out += "</g>\n</g>\n"
        return out
    }

    /// "train loss", "validation acc", "train top5", ...
    static func legendName(_ key: String) -> String {
        key.hasPrefix("val_") ? "validation " + key.dropFirst(4) : "train " + key
    }

    /// A linear axis over nice round ticks (1, 2, 2.5 or 5 times a power of ten) that cover the data.
    struct Axis {
        var low: Double
        var high: Double
        var ticks: [Double]
        var step: Double

        init(values: [Double], integer: Bool) {
            var lo = values.min()!, hi = values.max()!
            if hi - lo <= 0 || !(hi - lo).isFinite {
                // One point or a constant series: pad so the line sits in the middle.
                let pad = integer ? 1 : (lo == 0 ? 1 : abs(lo) * 0.1)
                lo -= pad; hi += pad
            }
            let raw = (hi - lo) / 5
            let magnitude = pow(10, floor(log10(raw)))
            var step = magnitude
            for m in [1.0, 2, 2.5, 5, 10] where raw <= m * magnitude * 1.0000001 {
                step = m * magnitude
                break
            }
            if integer { step = max(1, step.rounded(.up)) }
            low = (lo / step).rounded(.down) * step
            high = (hi / step).rounded(.up) * step
            if high <= low { high = low + step }
            self.step = step
            var ticks: [Double] = []
            var i = 0.0
            while low + i * step <= high + step * 1e-9 {
                ticks.append(low + i * step)
                i += 1
            }
            self.ticks = ticks
        }

        func label(_ value: Double) -> String {
            let decimals = max(0, Int(-floor(log10(step) + 1e-9)) + (step / pow(10, floor(log10(step))) == 2.5 ? 1 : 0))
            let text = String(format: "%.\(decimals)f", value)
            return text.hasPrefix("-") && Double(text) == 0 ? String(text.dropFirst()) : text
        }
    }

    static func fmt(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        if rounded == rounded.rounded() { return String(Int(rounded)) }
        return String(format: "%.2f", rounded)
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }
}
