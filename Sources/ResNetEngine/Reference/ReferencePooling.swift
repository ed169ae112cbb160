/// Max and average pooling from their definitions on channels-first buffers. Max pooling keeps,
/// as its workspace, the input index each output took (the first maximum in window order), so
/// backward routes each gradient to it; average pooling spreads it evenly over the window.
extension ReferenceBackend {
    /// Calls `body(y, taps)` for every NCHW output index with the NCHW input indices of its window
    /// that lie inside the input, and the window's full size.
    private func forEachWindow(_ xShape: [Int], _ g: WindowGeometry, _ body: (Int, [Int], Int) -> Void) {
        let (n, h, w, c) = (xShape[0], xShape[1], xShape[2], xShape[3])
        let (oh, ow) = (g.outputH, g.outputW)
        var taps: [Int] = []
        for plane in 0..<(n * c) { for i in 0..<oh { for j in 0..<ow {
            taps.removeAll(keepingCapacity: true)
            for p in 0..<g.kh {
                let ih = i * g.strideH - g.padTop + p * g.dilationH
                guard ih >= 0 && ih < h else { continue }
                for q in 0..<g.kw {
                    let iw = j * g.strideW - g.padLeft + q * g.dilationW
                    if iw >= 0 && iw < w { taps.append((plane * h + ih) * w + iw) }
                }
            }
            body((plane * oh + i) * ow + j, taps, g.kh * g.kw)
        } } }
    }

    /// What an average divides by: the whole window, or only its taps inside the input.
    private func divisor(_ kind: PoolKind, taps: Int, window: Int) -> Double {
        Double(kind == .averageIncludePadding ? window : taps)
    }

    public func pool(_ x: Tensor, kind: PoolKind, geometry g: WindowGeometry, training: Bool) -> (y: Tensor, workspace: Storage?) {
        require("pooling", x)
        let xs = nchw(x), xp = xs.doubles
        defer { withExtendedLifetime(xs) {} }
        let y = output([x.shape[0], g.outputH, g.outputW, x.shape[3]], activation: true), yp = y.doubles
        let argmax = kind == .max ? Storage(count: y.count, device: .reference) : nil
        let ap = argmax?.raw.assumingMemoryBound(to: Double.self)
        var gaps = [Double](repeating: 0, count: kind == .max ? y.count : 0)
        forEachWindow(x.shape, g) { yi, taps, window in
            precondition(!taps.isEmpty, "pooling window \(g) lies wholly in the padding")
            if kind == .max {
                var best = taps[0]
                for t in taps where xp[t] > xp[best] { best = t }
                yp[yi] = xp[best]
                ap![yi] = Double(best)
                gaps[yi] = taps.reduce(Double.infinity) { $1 == best ? $0 : min($0, xp[best] - xp[$1]) }
            } else {
                yp[yi] = taps.reduce(0) { $0 + xp[$1] } / divisor(kind, taps: taps.count, window: window)
            }
        }
        if kind == .max {
            let scale = UnsafeBufferPointer(start: xp, count: x.count).reduce(0) { max($0, abs($1)) }
            gaps.withUnsafeBufferPointer { kinkMargin.record($0, scale: scale) }
        }
        return (y, argmax)
    }

    public func poolBackward(_ dy: Tensor, kind: PoolKind, geometry g: WindowGeometry, inputShape: [Int], workspace: Storage?) -> Tensor {
        require("pooling backward", dy)
        let dys = nchw(dy), gp = dys.doubles
        defer { withExtendedLifetime(dys) {} }
        let dx = output(inputShape, activation: true), dxp = dx.doubles
        if kind == .max {
            guard let workspace, workspace.device == .reference, workspace.count == dy.count else {
                preconditionFailure("max pooling backward needs the workspace of its reference forward")
            }
            let ap = workspace.raw.assumingMemoryBound(to: Double.self)
            for i in 0..<dy.count { dxp[Int(ap[i])] += gp[i] }
            return dx
        }
        forEachWindow(inputShape, g) { yi, taps, window in
            let share = gp[yi] / divisor(kind, taps: taps.count, window: window)
            for t in taps { dxp[t] += share }
        }
        return dx
    }
}
