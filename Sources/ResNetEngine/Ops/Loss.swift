/// Softmax over the classes of [N, K] logits.
public func softmax(_ logits: Tensor) -> Tensor {
    let backend = Backend.current
    let p = backend.softmax(logits)
    let ps = p.detached()
    return record("softmax", [logits], p) { dy in [backend.softmaxBackward(dy, output: ps)] }
}

/// Mean cross-entropy of [N, K] logits against integer labels; `labelSmoothing` ε mixes the
/// one-hot target with the uniform distribution: (1 - ε) one-hot + ε / K (Szegedy et al. 2016).
public func crossEntropy(_ logits: Tensor, labels: LabelTensor, labelSmoothing: Float = 0) -> Tensor {
    precondition(logits.rank == 2 && logits.shape[0] == labels.count,
                 "cross-entropy: \(labels.count) labels for logits of shape \(logits.shape)")
    let targets = Backend.current.labelTargets(labels, classes: logits.shape[1], smoothing: labelSmoothing)
    return crossEntropy(logits, targets: targets)
}

/// Mean cross-entropy of [N, K] logits against target distributions (one-hot or soft).
public func crossEntropy(_ logits: Tensor, targets: Tensor, labelSmoothing: Float = 0) -> Tensor {
    let backend = Backend.current
    let t = labelSmoothing > 0 ? backend.smoothTargets(targets, smoothing: labelSmoothing) : targets
    let (loss, gradient) = backend.softmaxCrossEntropy(logits, targets: t)
    return record("crossEntropy", [logits], Tensor(scalar: loss)) { dy in [backend.scale(gradient, by: dy.scalar)] }
}

/// Sum of all elements, as a scalar tensor.
public func sum(_ x: Tensor) -> Tensor {
    let shape = x.shape
    return record("sum", [x], Tensor(scalar: Backend.current.sum(x))) { dy in [Tensor(repeating: dy.scalar, shape: shape)] }
}
