/// Elementwise ops and the option-A shortcut. Elementwise results take the first operand's order,
/// the second operand read in that order.
extension ReferenceBackend {
    /// A new tensor laid out like `a` with f(a[i], b[i]) at each position.
    private func zipped(_ op: String, _ a: Tensor, _ b: Tensor, _ f: (Double, Double) -> Double) -> Tensor {
        require(op, a, b)
        precondition(a.count == b.count, "\(op): \(a.shape) and \(b.shape) differ in size")
        let bs = conformed(b, to: a.storage.layout), y = output(a.shape)
        defer { withExtendedLifetime(bs) {} }
        y.storage.layout = a.storage.layout
        let (ap, bp, yp) = (a.doubles, bs.doubles, y.doubles)
        for i in 0..<a.count { yp[i] = f(ap[i], bp[i]) }
        return y
    }

    /// A new tensor laid out like `x` with f(x[i]) at each position.
    private func mapped(_ op: String, _ x: Tensor, _ f: (Double) -> Double) -> Tensor {
        zipped(op, x, x) { v, _ in f(v) }
    }

    /// Changes `a` in place to f(a[i], b[i]), moving its version.
    private func update(_ op: String, _ a: Tensor, _ b: Tensor, _ f: (Double, Double) -> Double) {
        require(op, a, b)
        precondition(a.count == b.count, "\(op): \(a.shape) and \(b.shape) differ in size")
        let bs = conformed(b, to: a.storage.layout)
        defer { withExtendedLifetime(bs) {} }
        let (ap, bp) = (a.doubles, bs.doubles)
        for i in 0..<a.count { ap[i] = f(ap[i], bp[i]) }
        a.storage.markModified()
    }

    public func relu(_ x: Tensor) -> Tensor {
        let y = mapped("ReLU", x) { max($0, 0) }
        let xp = UnsafeBufferPointer(start: x.doubles, count: x.count)
        let distances = xp.map { abs($0) }
        distances.withUnsafeBufferPointer { kinkMargin.record($0, scale: distances.max() ?? 0) }
        return y
    }
    public func reluBackward(_ dy: Tensor, output y: Tensor) -> Tensor { zipped("ReLU backward", dy, y) { $1 > 0 ? $0 : 0 } }
    public func add(_ a: Tensor, _ b: Tensor) -> Tensor { zipped("add", a, b, +) }
    public func addReLU(_ a: Tensor, _ b: Tensor) -> Tensor { unfused("add + ReLU") }
    public func addInPlace(_ a: Tensor, _ b: Tensor) { update("addInPlace", a, b, +) }
    public func scale(_ x: Tensor, by alpha: Float) -> Tensor { mapped("scale", x) { Double(alpha) * $0 } }
    public func multiply(_ a: Tensor, _ b: Tensor) -> Tensor { zipped("multiply", a, b, *) }
    public func axpbyInPlace(_ y: Tensor, alpha: Float, _ x: Tensor, beta: Float) {
        update("axpby", y, x) { Double(alpha) * $0 + Double(beta) * $1 }
    }
    public func scaleInPlace(_ x: Tensor, by alpha: Float) { update("scale in place", x, x) { v, _ in Double(alpha) * v } }

    public func sum(_ x: Tensor) -> Float {
        require("sum", x)
        return Float((0..<x.count).reduce(0) { $0 + x.doubles[$1] })
    }

    public func sumOfSquares(_ tensors: [Tensor]) -> Double {
        var total = 0.0
        for x in tensors {
            require("sum of squares", x)
            for i in 0..<x.count { total += x.doubles[i] * x.doubles[i] }
        }
        return total
    }

    public func padChannelsSubsample(_ x: Tensor, channels: Int, stride: Int) -> Tensor {
        require("option-A shortcut", x)
        precondition(x.rank == 4 && channels >= x.shape[3], "option-A shortcut: cannot pad \(x.shape) to \(channels) channels")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = ((h + stride - 1) / stride, (w + stride - 1) / stride)
        let xs = nchw(x), y = output([n, oh, ow, channels], activation: true)
        defer { withExtendedLifetime(xs) {} }
        for b in 0..<n { for ch in 0..<c { for i in 0..<oh { for j in 0..<ow {
            y.doubles[((b * channels + ch) * oh + i) * ow + j] = xs.doubles[((b * c + ch) * h + i * stride) * w + j * stride]
        } } } }
        return y
    }

    public func padChannelsSubsampleBackward(_ dy: Tensor, inputShape: [Int], stride: Int) -> Tensor {
        require("option-A shortcut backward", dy)
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow, channels) = (dy.shape[1], dy.shape[2], dy.shape[3])
        let dys = nchw(dy), dx = output(inputShape, activation: true)
        defer { withExtendedLifetime(dys) {} }
        for b in 0..<n { for ch in 0..<c { for i in 0..<oh { for j in 0..<ow {
            dx.doubles[((b * c + ch) * h + i * stride) * w + j * stride] = dys.doubles[((b * channels + ch) * oh + i) * ow + j]
        } } } }
        return dx
    }
}
