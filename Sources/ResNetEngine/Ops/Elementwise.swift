/// max(x, 0).
public func relu(_ x: Tensor) -> Tensor {
    let backend = Backend.current
    let y = backend.relu(x)
    let ys = y.detached()
    return record("relu", [x], y) { dy in [backend.reluBackward(dy, output: ys)] }
}

/// Elementwise sum of two tensors of the same shape (the residual connection, when not fused).
public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "add: shapes \(a.shape) and \(b.shape) differ")
    return record("add", [a, b], Backend.current.add(a, b)) { dy in [dy, dy] }
}

public func + (a: Tensor, b: Tensor) -> Tensor { add(a, b) }

/// relu(a + b) in one fused pass (the end of a v1 residual unit): saves a full read and write.
/// Two ops on a backend without that fusion.
public func addReLU(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "addReLU: shapes \(a.shape) and \(b.shape) differ")
    let backend = Backend.current
    guard backend.capabilities.contains(.addReLU) else { return relu(add(a, b)) }
    let y = backend.addReLU(a, b)
    let ys = y.detached()
    return record("addReLU", [a, b], y) { dy in
        let d = backend.reluBackward(dy, output: ys)
        return [d, d]
    }
}

/// x times a constant.
public func scale(_ x: Tensor, by alpha: Float) -> Tensor {
    let backend = Backend.current
    return record("scale", [x], backend.scale(x, by: alpha)) { dy in [backend.scale(dy, by: alpha)] }
}

public func * (x: Tensor, alpha: Float) -> Tensor { scale(x, by: alpha) }

/// The same values under another shape (no copy).
public func reshape(_ x: Tensor, _ shape: [Int]) -> Tensor {
    precondition(shape.reduce(1, *) == x.count, "cannot reshape \(x.shape) to \(shape)")
    let inputShape = x.shape
    x.device.hostAccess.makePlain(x)   // a view under another shape reads the buffer in the public order
    return record("reshape", [x], Tensor(shape: shape, storage: x.storage)) { dy in
        dy.device.hostAccess.makePlain(dy)
        return [Tensor(shape: inputShape, storage: dy.storage)]
    }
}

/// [N, ...] to [N, features].
public func flatten(_ x: Tensor) -> Tensor { reshape(x, [x.shape[0], x.count / max(x.shape[0], 1)]) }

/// Inverted dropout: in training, zeroes each element with probability `rate` and scales the rest
/// by 1 / (1 - rate); the mask comes from `seed`, so a step is reproducible.
public func dropout(_ x: Tensor, rate: Float, training: Bool, seed: UInt64) -> Tensor {
    precondition(rate >= 0 && rate < 1, "dropout rate must be in [0, 1), got \(rate)")
    guard training, rate > 0 else { return x }
    let backend = Backend.current
    let mask = backend.dropoutMask(shape: x.shape, rate: rate, seed: seed)
    return record("dropout", [x], backend.multiply(x, mask)) { dy in [backend.multiply(dy, mask)] }
}

/// The paper's shortcut option A (He et al. 2015, 4.2): identity with stride-s subsampling and zero
/// channels appended, so the shortcut adds no parameters (the CIFAR networks use it).
public func padChannelsSubsample(_ x: Tensor, channels: Int, stride: Int) -> Tensor {
    let backend = Backend.current
    let inputShape = x.shape
    return record("shortcutA", [x], backend.padChannelsSubsample(x, channels: channels, stride: stride)) { dy in
        [backend.padChannelsSubsampleBackward(dy, inputShape: inputShape, stride: stride)]
    }
}

/// Elementwise product of two tensors of the same shape (used by the test suite's weighted sums,
/// and by anything that needs a differentiable mask): d/da = dy * b, d/db = dy * a.
public func multiply(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "multiply: shapes \(a.shape) and \(b.shape) differ")
    let backend = Backend.current
    let (asaved, bsaved) = (a.detached(), b.detached())
    let needA = a.needsGradient, needB = b.needsGradient
    return record("multiply", [a, b], backend.multiply(a, b)) { dy in
        [needA ? backend.multiply(dy, bsaved) : nil, needB ? backend.multiply(dy, asaved) : nil]
    }
}
