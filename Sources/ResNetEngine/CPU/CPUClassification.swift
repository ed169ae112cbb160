/// The reduction metrics need from logits: per row, the arg-max (lowest index on ties, as
/// `torch.argmax`) and how many logits beat the true class's, with a NaN anywhere marking the row
/// invalid. The caller gets two integers per sample instead of the [N, K] values.
extension CPUBackend {
    public func classify(_ logits: Tensor, labels: [Int32]) -> [ClassificationOutcome] {
        let t = profiler.begin(); defer { profiler.end(.swiftKernels, pass: .forward, t) }
        precondition(logits.rank == 2 && logits.shape[0] == labels.count,
                     "classify: \(labels.count) labels for logits of shape \(logits.shape)")
        requireFloat32("classify", logits)
        let k = logits.shape[1]
        return logits.withHostValues { all in
            labels.enumerated().map { i, label in
                precondition(label >= 0 && Int(label) < k, "label \(label) outside 0..<\(k)")
                let row = all.baseAddress! + i * k
                let truth = row[Int(label)]
                var best = 0, bestValue = row[0], greater = 0
                for j in 0..<k {
                    let v = row[j]
                    if v.isNaN { return ClassificationOutcome(predicted: nil, greaterThanTruth: 0) }
                    if v > bestValue { bestValue = v; best = j }
                    if v > truth { greater += 1 }
                }
                return ClassificationOutcome(predicted: best, greaterThanTruth: greater)
            }
        }
    }
}
