/// A fully connected layer: x [N, in] times weight [out, in] transposed, plus bias [out].
public func linear(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil) -> Tensor {
    let backend = Backend.current
    let y = backend.linear(x, weight: weight, bias: bias)
    let (xs, ws) = (x.detached(), weight.detached())
    let needX = x.needsGradient, needW = weight.needsGradient || (bias?.needsGradient ?? false), hasBias = bias != nil
    return record("linear", [x, weight] + [bias].compactMap { $0 }, y) { dy in
        let dx = needX ? backend.linearBackwardData(dy, weight: ws) : nil
        let (dw, db) = needW ? backend.linearBackwardWeights(dy, input: xs, withBias: hasBias) : (nil, nil)
        return hasBias ? [dx, dw, db] : [dx, dw]
    }
}
