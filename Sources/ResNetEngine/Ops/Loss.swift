/// Softmax over the classes of [N, K] logits.
public func softmax(_ logits: Tensor) -> Tensor {
    let backend = Backend.current
    let p = backend.softmax(logits)
    let ps = p.detached()
    return record("softmax", [logits], p) { dy in
        // dx = p * (dy - sum(dy * p)) per row.
        let (n, k) = (ps.shape[0], ps.shape[1])
        let dx = Tensor(empty: ps.shape)
        dx.withMutableHostValues { o in ps.withHostValues { p in dy.withHostValues { g in
            for r in 0..<n {
                let row = r * k
                var dot: Float = 0
                for j in row..<row + k { dot += g[j] * p[j] }
                for j in row..<row + k { o[j] = p[j] * (g[j] - dot) }
            }
        } } }
        return [dx]
    }
}

/// Mean cross-entropy of [N, K] logits against integer labels; `labelSmoothing` ε mixes the
/// one-hot target with the uniform distribution: (1 - ε) one-hot + ε / K (Szegedy et al. 2016).
public func crossEntropy(_ logits: Tensor, labels: LabelTensor, labelSmoothing: Float = 0) -> Tensor {
    precondition(logits.rank == 2 && logits.shape[0] == labels.count,
                 "cross-entropy: \(labels.count) labels for logits of shape \(logits.shape)")
    let k = logits.shape[1]
    let targets = Tensor(repeating: labelSmoothing / Float(k), shape: logits.shape)
    targets.withMutableHostValues { t in
        for (i, label) in labels.values.enumerated() {
            precondition(label >= 0 && Int(label) < k, "label \(label) out of range for \(k) classes")
            t[i * k + Int(label)] += 1 - labelSmoothing
        }
    }
    return crossEntropy(logits, targets: targets)
}

/// Mean cross-entropy of [N, K] logits against target distributions (one-hot or soft).
public func crossEntropy(_ logits: Tensor, targets: Tensor, labelSmoothing: Float = 0) -> Tensor {
    let backend = Backend.current
    var t = targets
    if labelSmoothing > 0 {
        let k = Float(targets.shape[1])
        t = Tensor(empty: targets.shape)
        t.withMutableHostValues { out in targets.withHostValues { source in
            for i in out.indices { out[i] = source[i] * (1 - labelSmoothing) + labelSmoothing / k }
        } }
    }
    let (loss, gradient) = backend.softmaxCrossEntropy(logits, targets: t)
    return record("crossEntropy", [logits], Tensor(scalar: loss)) { dy in [backend.scale(gradient, by: dy.scalar)] }
}

/// Sum of all elements, as a scalar tensor.
public func sum(_ x: Tensor) -> Tensor {
    let shape = x.shape
    return record("sum", [x], Tensor(scalar: Backend.current.sum(x))) { dy in [Tensor(repeating: dy.scalar, shape: shape)] }
}
