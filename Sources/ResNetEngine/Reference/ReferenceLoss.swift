import Foundation

/// Softmax, cross-entropy, targets, the dropout mask and classification on row-major [N, K]
/// values, in Double.
extension ReferenceBackend {
    private func classes(_ t: Tensor, _ op: String) -> (Int, Int) {
        precondition(t.rank == 2, "\(op) wants [N, K] values, got \(t.shape)")
        return (t.shape[0], t.shape[1])
    }

    /// Softmax of row `r` of [N, K] `x` into `out` (row-major), and log Σ exp of the row.
    @discardableResult
    private func softmaxRow(_ x: UnsafeMutablePointer<Double>, _ r: Int, _ k: Int, into out: UnsafeMutablePointer<Double>) -> Double {
        let row = x + r * k, o = out + r * k
        let m = (0..<k).reduce(-Double.infinity) { max($0, row[$1]) }
        var s = 0.0
        for j in 0..<k { o[j] = exp(row[j] - m); s += o[j] }
        for j in 0..<k { o[j] /= s }
        return m + log(s)
    }

    public func softmax(_ logits: Tensor) -> Tensor {
        require("softmax", logits)
        let (n, k) = classes(logits, "softmax"), y = output(logits.shape)
        for r in 0..<n { softmaxRow(logits.doubles, r, k, into: y.doubles) }
        return y
    }

    public func softmaxCrossEntropy(_ logits: Tensor, targets: Tensor) -> (loss: Float, gradient: Tensor) {
        require("cross-entropy", logits, targets)
        precondition(logits.shape == targets.shape, "cross-entropy: logits \(logits.shape) and targets \(targets.shape) differ")
        let (n, k) = classes(logits, "cross-entropy"), grad = output(logits.shape)
        let (x, t, g) = (logits.doubles, targets.doubles, grad.doubles)
        var total = 0.0
        for r in 0..<n {
            let logZ = softmaxRow(x, r, k, into: g)
            for i in r * k..<(r + 1) * k {
                total -= t[i] * (x[i] - logZ)
                g[i] = (g[i] - t[i]) / Double(n)
            }
        }
        return (Float(total / Double(n)), grad)
    }

    public func softmaxBackward(_ dy: Tensor, output p: Tensor) -> Tensor {
        require("softmax backward", dy, p)
        precondition(dy.shape == p.shape, "softmax backward: gradient \(dy.shape) for output \(p.shape)")
        let (n, k) = classes(p, "softmax backward"), dx = output(p.shape)
        let (g, pp, o) = (dy.doubles, p.doubles, dx.doubles)
        for r in 0..<n {
            let row = r * k..<(r + 1) * k
            let dot = row.reduce(0.0) { $0 + g[$1] * pp[$1] }
            for i in row { o[i] = pp[i] * (g[i] - dot) }
        }
        return dx
    }

    public func labelTargets(_ labels: LabelTensor, classes k: Int, smoothing: Float) -> Tensor {
        let targets = output([labels.count, k]), t = targets.doubles
        for i in 0..<targets.count { t[i] = Double(smoothing) / Double(k) }
        for (i, label) in labels.values.enumerated() {
            precondition(label >= 0 && Int(label) < k, "label \(label) out of range for \(k) classes")
            t[i * k + Int(label)] += 1 - Double(smoothing)
        }
        return targets
    }

    public func smoothTargets(_ targets: Tensor, smoothing: Float) -> Tensor {
        require("smoothTargets", targets)
        let (_, k) = classes(targets, "smoothTargets"), e = Double(smoothing)
        let out = output(targets.shape)
        for i in 0..<targets.count { out.doubles[i] = targets.doubles[i] * (1 - e) + e / Double(k) }
        return out
    }

    /// The CPU backend's draws, in the same order: the same seed keeps the same elements.
    public func dropoutMask(shape: [Int], rate: Float, seed: UInt64) -> Tensor {
        precondition(rate >= 0 && rate < 1, "dropout rate must be in [0, 1), got \(rate)")
        var g = SeededGenerator(seed: seed)
        let mask = output(shape), keep = 1 / (1 - Double(rate))
        for i in 0..<mask.count { mask.doubles[i] = g.nextFloat() < rate ? 0 : keep }
        return mask
    }

    public func classify(_ logits: Tensor, labels: [Int32]) -> [ClassificationOutcome] {
        require("classify", logits)
        let (n, k) = classes(logits, "classify")
        precondition(n == labels.count, "classify: \(labels.count) labels for logits of shape \(logits.shape)")
        return labels.enumerated().map { r, label in
            precondition(label >= 0 && Int(label) < k, "label \(label) outside 0..<\(k)")
            let row = Array(UnsafeBufferPointer(start: logits.doubles + r * k, count: k))
            if row.contains(where: \.isNaN) { return ClassificationOutcome(predicted: nil, greaterThanTruth: 0) }
            let best = row.indices.reduce(0) { row[$1] > row[$0] ? $1 : $0 }
            return ClassificationOutcome(predicted: best, greaterThanTruth: row.filter { $0 > row[Int(label)] }.count)
        }
    }
}
