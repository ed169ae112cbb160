/// The inner product from its definition: y[n, o] = b[o] + Σ_i x[n, i]·w[o, i], on row-major buffers.
extension ReferenceBackend {
    private func rows(_ t: Tensor, _ op: String) -> (Int, Int) {
        precondition(t.rank == 2, "\(op) wants [N, features], got \(t.shape)")
        return (t.shape[0], t.shape[1])
    }

    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        require("linear", x, weight, bias)
        let (n, k) = rows(x, "linear"), (o, wk) = rows(weight, "linear")
        precondition(k == wk && (bias?.count ?? o) == o, "linear: input \(x.shape), weights \(weight.shape)")
        let y = output([n, o])
        let (xp, wp, yp) = (x.doubles, weight.doubles, y.doubles)
        for r in 0..<n { for j in 0..<o {
            var s = bias?.doubles[j] ?? 0
            for i in 0..<k { s += xp[r * k + i] * wp[j * k + i] }
            yp[r * o + j] = s
        } }
        return y
    }

    public func linearBackwardData(_ dy: Tensor, weight: Tensor) -> Tensor {
        require("linear backward", dy, weight)
        let (n, o) = rows(dy, "linear backward"), (_, k) = rows(weight, "linear backward")
        let dx = output([n, k])
        let (gp, wp, dxp) = (dy.doubles, weight.doubles, dx.doubles)
        for r in 0..<n { for j in 0..<o { for i in 0..<k { dxp[r * k + i] += gp[r * o + j] * wp[j * k + i] } } }
        return dx
    }

    public func linearBackwardWeights(_ dy: Tensor, input x: Tensor, withBias: Bool) -> (weight: Tensor, bias: Tensor?) {
        require("linear backward", dy, x)
        let (n, o) = rows(dy, "linear backward"), (_, k) = rows(x, "linear backward")
        let dw = output([o, k]), db = output([o])
        let (gp, xp, dwp) = (dy.doubles, x.doubles, dw.doubles)
        for r in 0..<n { for j in 0..<o {
            db.doubles[j] += gp[r * o + j]
            for i in 0..<k { dwp[j * k + i] += gp[r * o + j] * xp[r * k + i] }
        } }
        return (dw, withBias ? db : nil)
    }
}
