/// Batch normalization from its definition, per channel over N·H·W values (contiguous H·W planes in
/// the channels-first buffers): y = γ(x - μ)/sqrt(σ² + ε) + β with the biased batch variance,
/// and the running-statistics update and folding around it.
extension ReferenceBackend {
    /// The per-channel parameters as Doubles (γ = 1 without a scale).
    private func channelValues(_ t: Tensor?, _ c: Int, default value: Double) -> [Double] {
        guard let t else { return [Double](repeating: value, count: c) }
        precondition(t.count == c, "batch norm: a per-channel vector of \(t.count) values for \(c) channels")
        return Array(UnsafeBufferPointer(start: t.doubles, count: c))
    }

    /// Calls `body(channel, index)` for every value of NCHW `shape` ([N, H, W, C] logically).
    private func forEachValue(_ shape: [Int], _ body: (Int, Int) -> Void) {
        let (n, c, plane) = (shape[0], shape[3], shape[1] * shape[2])
        for b in 0..<n { for ch in 0..<c { for k in 0..<plane { body(ch, (b * c + ch) * plane + k) } } }
    }

    private func normalize(_ x: Tensor, scale: Tensor?, shift: Tensor, mean: [Double], variance: [Double], epsilon: Float) -> Tensor {
        let c = x.shape[3], xs = nchw(x), y = output(x.shape, activation: true)
        let gamma = channelValues(scale, c, default: 1), beta = channelValues(shift, c, default: 0)
        let inv = variance.map { 1 / ($0 + Double(epsilon)).squareRoot() }
        let (xp, yp) = (xs.doubles, y.doubles)
        defer { withExtendedLifetime(xs) {} }
        forEachValue(x.shape) { ch, i in yp[i] = gamma[ch] * (xp[i] - mean[ch]) * inv[ch] + beta[ch] }
        return y
    }

    private func vector(_ values: [Double]) -> Tensor {
        let t = output([values.count])
        for (i, v) in values.enumerated() { t.doubles[i] = v }
        return t
    }

    public func batchNormTraining(_ x: Tensor, scale: Tensor?, shift: Tensor, attributes: BatchNormAttributes)
        -> (y: Tensor, mean: Tensor, variance: Tensor, workspace: Storage?) {
        require("batch norm", x, scale, shift)
        if attributes.fusedReLU { unfused("batch norm + ReLU") }
        let c = x.shape[3], count = Double(x.count / max(c, 1)), xs = nchw(x), xp = xs.doubles
        defer { withExtendedLifetime(xs) {} }
        var mean = [Double](repeating: 0, count: c), variance = mean
        forEachValue(x.shape) { ch, i in mean[ch] += xp[i] }
        mean = mean.map { $0 / count }
        forEachValue(x.shape) { ch, i in variance[ch] += (xp[i] - mean[ch]) * (xp[i] - mean[ch]) }
        variance = variance.map { $0 / count }
        let y = normalize(x, scale: scale, shift: shift, mean: mean, variance: variance, epsilon: attributes.epsilon)
        return (y, vector(mean), vector(variance), nil)
    }

    public func batchNormInference(_ x: Tensor, scale: Tensor?, shift: Tensor, mean: Tensor, variance: Tensor,
                                   attributes: BatchNormAttributes) -> Tensor {
        require("batch norm", x, scale, shift, mean, variance)
        if attributes.fusedReLU { unfused("batch norm + ReLU") }
        let c = x.shape[3]
        return normalize(x, scale: scale, shift: shift, mean: channelValues(mean, c, default: 0),
                         variance: channelValues(variance, c, default: 1), epsilon: attributes.epsilon)
    }

    /// With batch statistics: dx = γ/σ·(dy - mean(dy) - x̂·mean(dy·x̂)); with running ones: dx = γ/σ·dy.
    public func batchNormBackward(_ dy: Tensor, input x: Tensor, scale: Tensor?, mean: Tensor, variance: Tensor,
                                  attributes: BatchNormAttributes, workspace: Storage?, statistics: NormalizationStatistics)
        -> (dx: Tensor, dscale: Tensor?, dshift: Tensor) {
        require("batch norm backward", dy, x, scale, mean, variance)
        if attributes.fusedReLU { unfused("batch norm + ReLU") }
        let c = x.shape[3], count = Double(x.count / max(c, 1))
        let gamma = channelValues(scale, c, default: 1), mu = channelValues(mean, c, default: 0)
        let inv = channelValues(variance, c, default: 1).map { 1 / ($0 + Double(attributes.epsilon)).squareRoot() }
        let (xs, dys) = (nchw(x), nchw(dy)), (xp, gp) = (xs.doubles, dys.doubles)
        defer { withExtendedLifetime((xs, dys)) {} }
        var dshift = [Double](repeating: 0, count: c), dscale = dshift
        forEachValue(x.shape) { ch, i in
            dshift[ch] += gp[i]
            dscale[ch] += gp[i] * (xp[i] - mu[ch]) * inv[ch]
        }
        let dx = output(x.shape, activation: true), dxp = dx.doubles
        forEachValue(x.shape) { ch, i in
            if statistics == .running {
                dxp[i] = gamma[ch] * inv[ch] * gp[i]
            } else {
                let normalized = (xp[i] - mu[ch]) * inv[ch]
                dxp[i] = gamma[ch] * inv[ch] * (gp[i] - dshift[ch] / count - normalized * dscale[ch] / count)
            }
        }
        return (dx, scale == nil ? nil : vector(dscale), vector(dshift))
    }

    public func updateRunningStatistics(mean: Tensor, variance: Tensor, batchMean: Tensor, batchVariance: Tensor,
                                        momentum: Float, count n: Int) {
        require("running statistics", mean, variance, batchMean, batchVariance)
        let c = mean.count, m = Double(momentum), correction = n > 1 ? Double(n) / Double(n - 1) : 1
        let (bm, bv) = (channelValues(batchMean, c, default: 0), channelValues(batchVariance, c, default: 1))
        for ch in 0..<c {
            mean.doubles[ch] = (1 - m) * mean.doubles[ch] + m * bm[ch]
            variance.doubles[ch] = (1 - m) * variance.doubles[ch] + m * bv[ch] * correction
        }
        mean.storage.markModified()
        variance.storage.markModified()
    }

    public func foldBatchNorm(weight: Tensor, bias: Tensor?, scale: Tensor?, shift: Tensor, mean: Tensor, variance: Tensor,
                              epsilon: Float) -> (weight: Tensor, bias: Tensor) {
        require("batch-norm folding", weight, bias, scale, shift, mean, variance)
        let o = weight.shape[0], perFilter = weight.count / max(o, 1)
        let gamma = channelValues(scale, o, default: 1), beta = channelValues(shift, o, default: 0)
        let convBias = channelValues(bias, o, default: 0), mu = channelValues(mean, o, default: 0)
        let sigma2 = channelValues(variance, o, default: 1)
        let s = (0..<o).map { gamma[$0] / (sigma2[$0] + Double(epsilon)).squareRoot() }
        let w = output(weight.shape), ws = conformed(weight, to: .nhwc), wp = ws.doubles
        defer { withExtendedLifetime(ws) {} }
        for i in 0..<weight.count { w.doubles[i] = wp[i] * s[i / perFilter] }
        return (w, vector((0..<o).map { beta[$0] + (convBias[$0] - mu[$0]) * s[$0] }))
    }
}
