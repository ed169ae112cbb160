/// Convolution from its definition: y[n, o, i, j] = b[o] + Σ x[n, c, i·s - p + k·d, ...]·w[o, c, k, l]
/// over the group's input channels and the taps inside the input. Its two backward passes visit
/// the same (output, input, weight) triples and scatter instead.
extension ReferenceBackend {
    /// Calls `body(y, x, w)` with the NCHW output, NCHW input and OIHW weight indices of every
    /// product a convolution of `xShape` (NHWC) by `wShape` sums, in a fixed order.
    private func forEachTap(_ xShape: [Int], _ wShape: [Int], _ g: WindowGeometry, _ body: (Int, Int, Int) -> Void) {
        let (n, h, w, c) = (xShape[0], xShape[1], xShape[2], xShape[3])
        let (o, perGroup, kh, kw) = (wShape[0], wShape[1], wShape[2], wShape[3])
        precondition(perGroup > 0 && c % perGroup == 0 && o % (c / perGroup) == 0 && g.inputH == h && g.inputW == w,
                     "convolution of \(xShape) by weights \(wShape) with window \(g)")
        let outputsPerGroup = o / (c / perGroup), (oh, ow) = (g.outputH, g.outputW)
        for b in 0..<n { for oc in 0..<o {
            let firstInput = oc / outputsPerGroup * perGroup
            for i in 0..<oh { for j in 0..<ow {
                let yi = ((b * o + oc) * oh + i) * ow + j
                for ci in 0..<perGroup {
                    let plane = (b * c + firstInput + ci) * h
                    for p in 0..<kh {
                        let ih = i * g.strideH - g.padTop + p * g.dilationH
                        guard ih >= 0 && ih < h else { continue }
                        for q in 0..<kw {
                            let iw = j * g.strideW - g.padLeft + q * g.dilationW
                            guard iw >= 0 && iw < w else { continue }
                            body(yi, (plane + ih) * w + iw, ((oc * perGroup + ci) * kh + p) * kw + q)
                        }
                    }
                }
            } }
        } }
    }

    public func convolution(_ x: Tensor, weight: Tensor, bias: Tensor?, attributes: ConvolutionAttributes) -> Tensor {
        require("convolution", x, weight, bias)
        if !attributes.postOps.isEmpty { unfused("convolution post-ops") }
        let g = attributes.geometry, o = weight.shape[0], plane = g.outputH * g.outputW
        let xs = nchw(x), ws = conformed(weight, to: .nhwc)
        let y = output([x.shape[0], g.outputH, g.outputW, o], activation: true)
        let (yp, xp, wp) = (y.doubles, xs.doubles, ws.doubles)
        defer { withExtendedLifetime((xs, ws)) {} }
        if let bias {
            for i in 0..<y.count { yp[i] = bias.doubles[i / plane % o] }
        }
        forEachTap(x.shape, weight.shape, g) { yi, xi, wi in yp[yi] += xp[xi] * wp[wi] }
        return y
    }

    public func convolutionBackwardData(_ dy: Tensor, weight: Tensor, geometry g: WindowGeometry, inputShape: [Int]) -> Tensor {
        require("convolution backward", dy, weight)
        let dys = nchw(dy), ws = conformed(weight, to: .nhwc)
        let dx = output(inputShape, activation: true)
        let (dxp, dyp, wp) = (dx.doubles, dys.doubles, ws.doubles)
        defer { withExtendedLifetime((dys, ws)) {} }
        forEachTap(inputShape, weight.shape, g) { yi, xi, wi in dxp[xi] += dyp[yi] * wp[wi] }
        return dx
    }

    public func convolutionBackwardWeights(_ dy: Tensor, input x: Tensor, geometry g: WindowGeometry,
                                           weightShape: [Int], withBias: Bool) -> (weight: Tensor, bias: Tensor?) {
        require("convolution backward", dy, x)
        let dys = nchw(dy), xs = nchw(x)
        let dw = output(weightShape)
        let (dwp, dyp, xp) = (dw.doubles, dys.doubles, xs.doubles)
        defer { withExtendedLifetime((dys, xs)) {} }
        forEachTap(x.shape, weightShape, g) { yi, xi, wi in dwp[wi] += dyp[yi] * xp[xi] }
        guard withBias else { return (dw, nil) }
        let o = weightShape[0], plane = dy.shape[1] * dy.shape[2]
        let db = output([o])
        for i in 0..<dy.count { db.doubles[i / plane % o] += dyp[i] }
        return (dw, db)
    }
}
