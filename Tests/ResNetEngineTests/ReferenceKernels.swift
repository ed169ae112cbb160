import XCTest
@testable import ResNetEngine

// Plain-Swift float64 reference implementations of every engine kernel, written straight from the
// definitions with no oneDNN and no engine code (only the engine's `Tensor` to carry data in and
// out). Layouts match the engine: activations NHWC, convolution weights OIHW, dense weights [out, in].
// Loops use unsafe buffers because the tests run in debug builds.

// MARK: - Data helpers

/// A float64 array with a shape, row-major.
struct DArray {
    var shape: [Int]
    var data: [Double]

    init(shape: [Int], data: [Double]) {
        precondition(shape.reduce(1, *) == data.count, "\(data.count) values for shape \(shape)")
        self.shape = shape
        self.data = data
    }

    init(zeros shape: [Int]) { self.init(shape: shape, data: [Double](repeating: 0, count: shape.reduce(1, *))) }
    init(_ t: Tensor) { self.init(shape: t.shape, data: t.toArray().map(Double.init)) }

    var count: Int { data.count }
    /// The same values as an engine tensor (rounded to float32).
    func tensor(requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: shape, values: data.map(Float.init), requiresGrad: requiresGrad)
    }
}

/// Deterministic random float64 values (normal), from the engine's seeded generator.
func randomDoubles(_ count: Int, seed: UInt64, std: Double = 1, mean: Double = 0) -> [Double] {
    var g = SeededGenerator(seed: seed)
    return (0..<count).map { _ in mean + std * Double(g.nextNormal()) }
}

func randomDArray(_ shape: [Int], seed: UInt64, std: Double = 1, mean: Double = 0) -> DArray {
    // Rounded through float32 so the engine and the reference see exactly the same values.
    DArray(shape: shape, data: randomDoubles(shape.reduce(1, *), seed: seed, std: std, mean: mean).map { Double(Float($0)) })
}

/// An engine tensor with random normal entries.
func randomTensor(_ shape: [Int], seed: UInt64, std: Float = 1, mean: Float = 0, requiresGrad: Bool = false) -> Tensor {
    let t = Tensor.randomNormal(shape, std: std, mean: mean, seed: seed)
    t.requiresGrad = requiresGrad
    return t
}

/// max |actual - expected| / max(max |expected|, floor): the error relative to the reference's scale.
func relativeError(_ actual: [Double], _ expected: [Double], floor: Double = 1e-6) -> Double {
    precondition(actual.count == expected.count, "comparing \(actual.count) values with \(expected.count)")
    var maxDiff = 0.0, scale = floor
    for i in 0..<actual.count {
        maxDiff = max(maxDiff, abs(actual[i] - expected[i]))
        scale = max(scale, abs(expected[i]))
    }
    return maxDiff / scale
}

/// Asserts `actual` matches `expected` within `tolerance`, relative to the largest reference magnitude.
func assertClose(_ actual: Tensor, _ expected: DArray, tolerance: Double, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", file: file, line: line)
    guard actual.count == expected.count else { return }
    let err = relativeError(actual.toArray().map(Double.init), expected.data)
    XCTAssertLessThanOrEqual(err, tolerance, "\(what): relative error \(err) above \(tolerance)", file: file, line: line)
    // A reference that is all zeros would make the check vacuous.
    XCTAssertTrue(expected.data.contains { $0 != 0 }, "\(what): reference is all zeros", file: file, line: line)
}

func assertClose(_ actual: [Double], _ expected: [Double], tolerance: Double, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    let err = relativeError(actual, expected)
    XCTAssertLessThanOrEqual(err, tolerance, "\(what): relative error \(err) above \(tolerance)", file: file, line: line)
}

// MARK: - Window geometry

/// A window op's geometry in the reference's own terms. Output sizes are computed here from the
/// standard formula, independent of `WindowGeometry.outputH`.
struct RefWindow {
    var kh: Int, kw: Int
    var sh: Int, sw: Int
    var dh: Int, dw: Int
    var pt: Int, pb: Int, pl: Int, pr: Int

    init(kh: Int, kw: Int, sh: Int, sw: Int, dh: Int = 1, dw: Int = 1, pt: Int = 0, pb: Int = 0, pl: Int = 0, pr: Int = 0) {
        (self.kh, self.kw, self.sh, self.sw, self.dh, self.dw) = (kh, kw, sh, sw, dh, dw)
        (self.pt, self.pb, self.pl, self.pr) = (pt, pb, pl, pr)
    }

    /// The paddings the engine resolved (checked against hand values in GeometryTests).
    init(_ g: WindowGeometry) {
        self.init(kh: g.kh, kw: g.kw, sh: g.strideH, sw: g.strideW, dh: g.dilationH, dw: g.dilationW,
                  pt: g.padTop, pb: g.padBottom, pl: g.padLeft, pr: g.padRight)
    }

    func outputH(_ h: Int) -> Int { (h + pt + pb - ((kh - 1) * dh + 1)) / sh + 1 }
    func outputW(_ w: Int) -> Int { (w + pl + pr - ((kw - 1) * dw + 1)) / sw + 1 }
}

// MARK: - Convolution

/// y[n, oh, ow, o] = relu?(bias[o] + residual + Σ x[n, oh*s - pt + i*d, ow*s - pl + j*d, c] * w[o, c, i, j]).
/// With `groups`, output o sums only over its group's input channels: w is [O, C/groups, KH, KW] and
/// the sum runs over c = group(o) * C/groups + c' (written out, independent of the engine's groups).
func refConv2d(_ x: DArray, _ w: DArray, bias: DArray? = nil, _ g: RefWindow, groups: Int = 1, residual: DArray? = nil, relu: Bool = false) -> DArray {
    let (n, h, wd, cAll) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let o = w.shape[0], c = cAll / groups, perGroup = o / groups
    precondition(w.shape[1] * groups == cAll && o % groups == 0 && w.shape[2] == g.kh && w.shape[3] == g.kw)
    let (oh, ow) = (g.outputH(h), g.outputW(wd))
    var y = DArray(zeros: [n, oh, ow, o])
    x.data.withUnsafeBufferPointer { xp in w.data.withUnsafeBufferPointer { wp in y.data.withUnsafeMutableBufferPointer { yp in
        for b in 0..<n { for p in 0..<oh { for q in 0..<ow { for f in 0..<o {
            var s = bias?.data[f] ?? 0
            for i in 0..<g.kh {
                let ih = p * g.sh - g.pt + i * g.dh
                if ih < 0 || ih >= h { continue }
                for j in 0..<g.kw {
                    let iw = q * g.sw - g.pl + j * g.dw
                    if iw < 0 || iw >= wd { continue }
                    let xb = ((b * h + ih) * wd + iw) * cAll + (f / perGroup) * c
                    for ch in 0..<c { s += xp[xb + ch] * wp[((f * c + ch) * g.kh + i) * g.kw + j] }
                }
            }
            let yi = ((b * oh + p) * ow + q) * o + f
            if let residual { s += residual.data[yi] }
            yp[yi] = relu ? max(s, 0) : s
        } } } }
    } } }
    return y
}

/// The adjoint of the convolution in x: dx[n, ih, iw, c] = Σ dy[n, oh, ow, o] * w[o, c, i, j] over the taps that read (ih, iw).
func refConvBackwardData(_ dy: DArray, _ w: DArray, _ g: RefWindow, groups: Int = 1, inputShape: [Int]) -> DArray {
    let (n, h, wd, cAll) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
    let (oh, ow, o) = (dy.shape[1], dy.shape[2], dy.shape[3])
    let c = cAll / groups, perGroup = o / groups
    precondition(w.shape[1] * groups == cAll && o % groups == 0)
    var dx = DArray(zeros: inputShape)
    dy.data.withUnsafeBufferPointer { dp in w.data.withUnsafeBufferPointer { wp in dx.data.withUnsafeMutableBufferPointer { xp in
        for b in 0..<n { for p in 0..<oh { for q in 0..<ow { for f in 0..<o {
            let d = dp[((b * oh + p) * ow + q) * o + f]
            for i in 0..<g.kh {
                let ih = p * g.sh - g.pt + i * g.dh
                if ih < 0 || ih >= h { continue }
                for j in 0..<g.kw {
                    let iw = q * g.sw - g.pl + j * g.dw
                    if iw < 0 || iw >= wd { continue }
                    let xb = ((b * h + ih) * wd + iw) * cAll + (f / perGroup) * c
                    for ch in 0..<c { xp[xb + ch] += d * wp[((f * c + ch) * g.kh + i) * g.kw + j] }
                }
            }
        } } } }
    } } }
    return dx
}

/// dw[o, c, i, j] = Σ dy[n, oh, ow, o] * x[n, ih, iw, c]; db[o] = Σ dy[n, oh, ow, o].
func refConvBackwardWeights(_ dy: DArray, _ x: DArray, _ g: RefWindow, groups: Int = 1, weightShape: [Int]) -> (weight: DArray, bias: DArray) {
    let (n, h, wd, cAll) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (oh, ow, o) = (dy.shape[1], dy.shape[2], dy.shape[3])
    let c = cAll / groups, perGroup = o / groups
    precondition(weightShape[1] * groups == cAll && o % groups == 0)
    var dw = DArray(zeros: weightShape), db = DArray(zeros: [o])
    dy.data.withUnsafeBufferPointer { dp in x.data.withUnsafeBufferPointer { xp in dw.data.withUnsafeMutableBufferPointer { wp in
        for b in 0..<n { for p in 0..<oh { for q in 0..<ow { for f in 0..<o {
            let d = dp[((b * oh + p) * ow + q) * o + f]
            db.data[f] += d
            for i in 0..<g.kh {
                let ih = p * g.sh - g.pt + i * g.dh
                if ih < 0 || ih >= h { continue }
                for j in 0..<g.kw {
                    let iw = q * g.sw - g.pl + j * g.dw
                    if iw < 0 || iw >= wd { continue }
                    let xb = ((b * h + ih) * wd + iw) * cAll + (f / perGroup) * c
                    for ch in 0..<c { wp[((f * c + ch) * g.kh + i) * g.kw + j] += d * xp[xb + ch] }
                }
            }
        } } } }
    } } }
    return (dw, db)
}

/// Zero-pads explicitly (TF's `tf.pad`), NHWC.
func refPad(_ x: DArray, top: Int, bottom: Int, left: Int, right: Int) -> DArray {
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (ph, pw) = (h + top + bottom, w + left + right)
    var y = DArray(zeros: [n, ph, pw, c])
    for b in 0..<n { for i in 0..<h { for j in 0..<w { for ch in 0..<c {
        y.data[((b * ph + i + top) * pw + j + left) * c + ch] = x.data[((b * h + i) * w + j) * c + ch]
    } } } }
    return y
}

// MARK: - Batch normalization

/// Per-channel mean and biased variance of an NHWC tensor.
func refChannelMoments(_ x: DArray) -> (mean: [Double], variance: [Double]) {
    let c = x.shape[3], m = x.count / c
    var mean = [Double](repeating: 0, count: c), variance = [Double](repeating: 0, count: c)
    for i in 0..<x.count { mean[i % c] += x.data[i] }
    for k in 0..<c { mean[k] /= Double(m) }
    for i in 0..<x.count { let d = x.data[i] - mean[i % c]; variance[i % c] += d * d }
    for k in 0..<c { variance[k] /= Double(m) }
    return (mean, variance)
}

/// y = relu?(scale * (x - mean) / sqrt(var + eps) + shift) with the given statistics.
func refBatchNorm(_ x: DArray, scale: [Double]?, shift: [Double], mean: [Double], variance: [Double],
                  epsilon: Double, relu: Bool = false) -> DArray {
    let c = x.shape[3]
    var y = x
    for i in 0..<x.count {
        let k = i % c
        let v = (scale?[k] ?? 1) * (x.data[i] - mean[k]) / (variance[k] + epsilon).squareRoot() + shift[k]
        y.data[i] = relu ? max(v, 0) : v
    }
    return y
}

/// Training-mode batch norm: normalizes with the batch's own mean and biased variance.
func refBatchNormTraining(_ x: DArray, scale: [Double]?, shift: [Double], epsilon: Double, relu: Bool = false)
    -> (y: DArray, mean: [Double], variance: [Double]) {
    let (mean, variance) = refChannelMoments(x)
    return (refBatchNorm(x, scale: scale, shift: shift, mean: mean, variance: variance, epsilon: epsilon, relu: relu), mean, variance)
}

/// The closed-form batch-norm backward. `y` (the forward output) masks dy when ReLU is fused.
/// Batch statistics: dx = scale/σ (g - mean(g) - x̂ mean(g x̂)); global statistics: dx = scale/σ g.
func refBatchNormBackward(_ dy: DArray, _ x: DArray, y: DArray?, scale: [Double]?, mean: [Double], variance: [Double],
                          epsilon: Double, globalStatistics: Bool) -> (dx: DArray, dscale: [Double], dshift: [Double]) {
    let c = x.shape[3], m = Double(x.count / c)
    var g = dy
    if let y { for i in 0..<g.count where y.data[i] <= 0 { g.data[i] = 0 } }
    let sigma = (0..<c).map { (variance[$0] + epsilon).squareRoot() }
    var dshift = [Double](repeating: 0, count: c), dscale = [Double](repeating: 0, count: c)
    var xhat = x
    for i in 0..<x.count {
        let k = i % c
        xhat.data[i] = (x.data[i] - mean[k]) / sigma[k]
        dshift[k] += g.data[i]
        dscale[k] += g.data[i] * xhat.data[i]
    }
    var dx = x
    for i in 0..<x.count {
        let k = i % c
        let s = (scale?[k] ?? 1) / sigma[k]
        dx.data[i] = globalStatistics ? s * g.data[i] : s * (g.data[i] - dshift[k] / m - xhat.data[i] * dscale[k] / m)
    }
    return (dx, dscale, dshift)
}

// MARK: - Pooling

enum RefPoolKind { case max, averageIncludePadding, averageExcludePadding }

/// Max over the in-bounds taps; average over the whole window (padding counted as zeros) or over
/// the in-bounds taps only.
func refPool(_ x: DArray, _ kind: RefPoolKind, _ g: RefWindow) -> DArray {
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (oh, ow) = (g.outputH(h), g.outputW(w))
    var y = DArray(zeros: [n, oh, ow, c])
    for b in 0..<n { for p in 0..<oh { for q in 0..<ow { for ch in 0..<c {
        var best = -Double.infinity, total = 0.0, inside = 0
        for i in 0..<g.kh {
            let ih = p * g.sh - g.pt + i * g.dh
            if ih < 0 || ih >= h { continue }
            for j in 0..<g.kw {
                let iw = q * g.sw - g.pl + j * g.dw
                if iw < 0 || iw >= w { continue }
                let v = x.data[((b * h + ih) * w + iw) * c + ch]
                best = max(best, v); total += v; inside += 1
            }
        }
        let out: Double
        switch kind {
        case .max: out = best
        case .averageIncludePadding: out = total / Double(g.kh * g.kw)
        case .averageExcludePadding: out = total / Double(inside)
        }
        y.data[((b * oh + p) * ow + q) * c + ch] = out
    } } } }
    return y
}

/// Max: dy goes to the window's arg-max; average: dy / divisor to every in-bounds tap.
func refPoolBackward(_ dy: DArray, _ x: DArray, _ kind: RefPoolKind, _ g: RefWindow) -> DArray {
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (oh, ow) = (dy.shape[1], dy.shape[2])
    var dx = DArray(zeros: x.shape)
    for b in 0..<n { for p in 0..<oh { for q in 0..<ow { for ch in 0..<c {
        var taps: [Int] = []
        for i in 0..<g.kh {
            let ih = p * g.sh - g.pt + i * g.dh
            if ih < 0 || ih >= h { continue }
            for j in 0..<g.kw {
                let iw = q * g.sw - g.pl + j * g.dw
                if iw < 0 || iw >= w { continue }
                taps.append(((b * h + ih) * w + iw) * c + ch)
            }
        }
        let d = dy.data[((b * oh + p) * ow + q) * c + ch]
        switch kind {
        case .max:
            let arg = taps.max { x.data[$0] < x.data[$1] }!
            dx.data[arg] += d
        case .averageIncludePadding:
            for t in taps { dx.data[t] += d / Double(g.kh * g.kw) }
        case .averageExcludePadding:
            for t in taps { dx.data[t] += d / Double(taps.count) }
        }
    } } } }
    return dx
}

// MARK: - Dense, elementwise, loss

/// y[n, o] = Σ_i x[n, i] w[o, i] + b[o].
func refLinear(_ x: DArray, _ w: DArray, bias: DArray? = nil) -> DArray {
    let (n, k, o) = (x.shape[0], x.shape[1], w.shape[0])
    var y = DArray(zeros: [n, o])
    for r in 0..<n { for f in 0..<o {
        var s = bias?.data[f] ?? 0
        for i in 0..<k { s += x.data[r * k + i] * w.data[f * k + i] }
        y.data[r * o + f] = s
    } }
    return y
}

/// dx = dy W, dW = dyᵀ x, db = Σ_n dy.
func refLinearBackward(_ dy: DArray, _ x: DArray, _ w: DArray) -> (dx: DArray, dw: DArray, db: DArray) {
    let (n, k, o) = (x.shape[0], x.shape[1], w.shape[0])
    var dx = DArray(zeros: x.shape), dw = DArray(zeros: w.shape), db = DArray(zeros: [o])
    for r in 0..<n { for f in 0..<o {
        let d = dy.data[r * o + f]
        db.data[f] += d
        for i in 0..<k {
            dx.data[r * k + i] += d * w.data[f * k + i]
            dw.data[f * k + i] += d * x.data[r * k + i]
        }
    } }
    return (dx, dw, db)
}

func refRelu(_ x: DArray) -> DArray { DArray(shape: x.shape, data: x.data.map { max($0, 0) }) }

func refAdd(_ a: DArray, _ b: DArray) -> DArray { DArray(shape: a.shape, data: zip(a.data, b.data).map { $0 + $1 }) }

/// Row-wise softmax of [N, K].
func refSoftmax(_ x: DArray) -> DArray {
    let (n, k) = (x.shape[0], x.shape[1])
    var y = x
    for r in 0..<n {
        let row = x.data[(r * k)..<((r + 1) * k)]
        let m = row.max()!
        let e = row.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        for j in 0..<k { y.data[r * k + j] = e[j] / s }
    }
    return y
}

/// Mean over rows of -Σ_j t[j] log softmax(x)[j].
func refCrossEntropy(_ x: DArray, targets t: DArray) -> Double {
    let (n, k) = (x.shape[0], x.shape[1])
    var total = 0.0
    for r in 0..<n {
        let row = x.data[(r * k)..<((r + 1) * k)]
        let m = row.max()!
        let logZ = m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +))
        for j in 0..<k { total -= t.data[r * k + j] * (x.data[r * k + j] - logZ) }
    }
    return total / Double(n)
}

/// The paper's option-A shortcut: x[:, ::s, ::s, :] with zero channels appended up to `channels`.
func refPadChannelsSubsample(_ x: DArray, channels: Int, stride: Int) -> DArray {
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (oh, ow) = ((h + stride - 1) / stride, (w + stride - 1) / stride)
    var y = DArray(zeros: [n, oh, ow, channels])
    for b in 0..<n { for i in 0..<oh { for j in 0..<ow { for ch in 0..<c {
        y.data[((b * oh + i) * ow + j) * channels + ch] = x.data[((b * h + i * stride) * w + j * stride) * c + ch]
    } } } }
    return y
}
