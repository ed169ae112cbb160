import CDNNL

/// Inference 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray
/// 2015, "Fast Algorithms for Convolutional Neural Networks"): each 2x2 output tile costs 16
/// multiplications per channel pair instead of 36, as 16 matrix products on oneDNN's sgemm.
/// oneDNN 2.6 has Winograd kernels for AVX-512 only; on AVX2 its direct 3x3 kernels already run at
/// the sgemm rate, so fewer multiplications are the way left to go faster.
///
/// Activations are in the blocked layout between layers (nChw8c or nChw16c), so the tile
/// transforms work on one channel block at once, as one SIMD8 or SIMD16 vector. Bias, residual add
/// and ReLU are applied in the output transform.
enum Winograd {
    /// At least this many 2x2 tiles per call: below it the 16 products are too small for sgemm to
    /// beat the direct kernel.
    static let minimumTiles = 256

    /// Whether `x` (already in `layout`) convolved with `weight` by `g` can take the Winograd path
    /// (the engine option `winograd`, from `SWIFTRESNET_WINOGRAD`, can still keep it on oneDNN's).
    static func applies(_ xShape: [Int], _ wShape: [Int], _ g: WindowGeometry, layout: MemoryLayout4D) -> Bool {
        guard let block = layout.channelBlock, xShape[3] == wShape[1], wShape[1] % block == 0, wShape[0] % block == 0,
              wShape[2] == 3, wShape[3] == 3, g.strideH == 1, g.strideW == 1,
              g.dilationH == 1, g.dilationW == 1, g.outputH == xShape[1], g.outputW == xShape[2],
              g.padTop == 1, g.padLeft == 1 else { return false }
        return xShape[0] * ((g.outputH + 1) / 2) * ((g.outputW + 1) / 2) >= minimumTiles
    }

    /// The filters transformed, U = G g G^T, laid out [16][C][K] for the products.
    static func transformWeights(_ w: Tensor) -> Storage {
        let (k, c) = (w.shape[0], w.shape[1])
        let u = Storage(count: 16 * c * k)
        let src = UnsafePointer(w.storage.pointer), dst = u.pointer
        parallelFor(k) { o in
            for i in 0..<c {
                let g = src + (o * c + i) * 9
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 12) { gg in
                    // G g: 4x3, then (G g) G^T: 4x4.
                    for col in 0..<3 {
                        let (g0, g1, g2) = (g[col], g[3 + col], g[6 + col])
                        gg[col] = g0
                        gg[3 + col] = 0.5 * (g0 + g1 + g2)
                        gg[6 + col] = 0.5 * (g0 - g1 + g2)
                        gg[9 + col] = g2
                    }
                    for row in 0..<4 {
                        let (a0, a1, a2) = (gg[row * 3], gg[row * 3 + 1], gg[row * 3 + 2])
                        dst[((row * 4) * c + i) * k + o] = a0
                        dst[((row * 4 + 1) * c + i) * k + o] = 0.5 * (a0 + a1 + a2)
                        dst[((row * 4 + 2) * c + i) * k + o] = 0.5 * (a0 - a1 + a2)
                        dst[((row * 4 + 3) * c + i) * k + o] = a2
                    }
                }
            }
        }
        return u
    }

    /// The kernel as `resnet info` names it: the Swift transforms' vector width, and oneDNN's sgemm
    /// (which runs with the ISA oneDNN dispatches to) for the products.
    static func implementation(layout: MemoryLayout4D) -> String {
        "swift_winograd_2x3:simd\(layout.channelBlock ?? 0)+sgemm:\(OneDNN.isa.name)"
    }

    /// y = relu(conv3x3(x, w) + bias + residual), `x` and `residual` in the same blocked layout,
    /// `u` from `transformWeights`; the output takes that layout too.
    static func convolution(_ x: Tensor, transformed u: Storage, outputChannels k: Int, bias: Tensor?,
                            residual: Tensor?, relu: Bool, profiler: Profiler) -> Tensor {
        switch x.storage.layout {
        case .nChw8c:
            return convolution(x, transformed: u, outputChannels: k, bias: bias, residual: residual, relu: relu, profiler: profiler,
                               vector: SIMD8<Float>.self)
        case .nChw16c:
            return convolution(x, transformed: u, outputChannels: k, bias: bias, residual: residual, relu: relu, profiler: profiler,
                               vector: SIMD16<Float>.self)
        case let other:
            preconditionFailure("Winograd runs on blocked activations, got \(other)")
        }
    }

    /// The kernel for one block width: `V` holds one channel block.
    @_specialize(where V == SIMD8<Float>)
    @_specialize(where V == SIMD16<Float>)
    private static func convolution<V: SIMD>(_ x: Tensor, transformed u: Storage, outputChannels k: Int, bias: Tensor?,
                                             residual: Tensor?, relu: Bool, profiler: Profiler, vector _: V.Type) -> Tensor
        where V.Scalar == Float {
        let block = V.scalarCount, layout = x.storage.layout
        precondition(residual.map { $0.storage.layout == layout } ?? true, "Winograd's residual must be in its input's layout")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (th, tw) = ((h + 1) / 2, (w + 1) / 2)
        let tiles = n * th * tw
        func stage(_ name: String) -> PrimitiveKey { PrimitiveKey(.winograd, [x.shape], ["k\(k)", name]) }
        /// Tile t's image and tile row and column (tiles run image by image, row by row).
        @inline(__always) func position(_ t: Int) -> (img: Int, ty: Int, tx: Int) {
            let (img, rest) = t.quotientAndRemainder(dividingBy: th * tw)
            let (ty, tx) = rest.quotientAndRemainder(dividingBy: tw)
            return (img, ty, tx)
        }
        var start = profiler.begin()

        // V = B^T d B for every 4x4 input tile and channel, laid out [16][tiles][C].
        let v = Storage(count: 16 * tiles * c)
        let xp = UnsafePointer(x.storage.pointer), vp = v.pointer
        let cBlocks = c / block
        parallelChunks(tiles, minimumChunk: 16) { range in
          withUnsafeTemporaryAllocation(of: V.self, capacity: 16) { d in
            @inline(__always) func store(_ value: V, _ p: Int, _ t: Int, _ cb: Int) {
                UnsafeMutableRawPointer(vp + (p * tiles + t) * c + cb * block).storeBytes(of: value, as: V.self)
            }
            for t in range {
                let (img, ty, tx) = position(t)
                let (y0, x0) = (2 * ty - 1, 2 * tx - 1)
                let interior = y0 >= 0 && x0 >= 0 && y0 + 3 < h && x0 + 3 < w
                for cb in 0..<cBlocks {
                    let plane = xp + ((img * cBlocks + cb) * h) * w * block
                    for r in 0..<4 {
                        let yy = y0 + r
                        for s in 0..<4 {
                            let xx = x0 + s
                            if interior || (yy >= 0 && yy < h && xx >= 0 && xx < w) {
                                d[r * 4 + s] = UnsafeRawPointer(plane + (yy * w + xx) * block).loadUnaligned(as: V.self)
                            } else {
                                d[r * 4 + s] = .zero
                            }
                        }
                    }
                    // Rows: B^T d.
                    for s in 0..<4 {
                        let (a0, a1, a2, a3) = (d[s], d[4 + s], d[8 + s], d[12 + s])
                        d[s] = a0 - a2; d[4 + s] = a1 + a2; d[8 + s] = a2 - a1; d[12 + s] = a1 - a3
                    }
                    // Columns: (B^T d) B, stored.
                    for r in 0..<4 {
                        let (a0, a1, a2, a3) = (d[r * 4], d[r * 4 + 1], d[r * 4 + 2], d[r * 4 + 3])
                        store(a0 - a2, r * 4, t, cb); store(a1 + a2, r * 4 + 1, t, cb)
                        store(a2 - a1, r * 4 + 2, t, cb); store(a1 - a3, r * 4 + 3, t, cb)
                    }
                }
            }
          }
        }
        profiler.end(.convolution, pass: .forward, primitive: stage("input transform"), start)

        // M_p = V_p U_p: 16 products [tiles x C] x [C x K].
        start = profiler.begin()
        let m = Storage(count: 16 * tiles * k)
        for p in 0..<16 {
            dnnlCheck(dnnl_sgemm(78, 78, Int64(tiles), Int64(k), Int64(c), 1, vp + p * tiles * c, Int64(c),
                                 u.pointer + p * c * k, Int64(k), 0, m.pointer + p * tiles * k, Int64(k)), "Winograd sgemm")
        }
        withExtendedLifetime(v) {}
        profiler.end(.convolution, pass: .forward, primitive: stage("products"), start)

        // Y = A^T M A per tile, plus bias and residual, ReLU, into the input's layout.
        start = profiler.begin()
        let y = emptyActivation([n, h, w, k], layout)
        let yp = y.storage.pointer, mp = UnsafePointer(m.pointer)
        let rp = residual.map { UnsafePointer($0.storage.pointer) }, bp = bias.map { UnsafePointer($0.storage.pointer) }
        let kBlocks = k / block
        parallelChunks(tiles, minimumChunk: 16) { range in
            for t in range {
                let (img, ty, tx) = position(t)
                for kb in 0..<kBlocks {
                    @inline(__always) func at(_ p: Int) -> V {
                        UnsafeRawPointer(mp + (p * tiles + t) * k + kb * block).loadUnaligned(as: V.self)
                    }
                    // Rows: A^T M (2x4), then columns: (A^T M) A (2x2).
                    let (m0, m1, m2, m3) = (at(0) + at(4) + at(8), at(1) + at(5) + at(9), at(2) + at(6) + at(10), at(3) + at(7) + at(11))
                    let (n0, n1, n2, n3) = (at(4) - at(8) - at(12), at(5) - at(9) - at(13), at(6) - at(10) - at(14), at(7) - at(11) - at(15))
                    let b = bp.map { UnsafeRawPointer($0 + kb * block).loadUnaligned(as: V.self) } ?? .zero
                    let plane = ((img * kBlocks + kb) * h) * w * block
                    @inline(__always) func put(_ value: V, _ yy: Int, _ xx: Int) {
                        guard yy < h && xx < w else { return }
                        let offset = plane + (yy * w + xx) * block
                        var v = value + b
                        if let rp { v += UnsafeRawPointer(rp + offset).loadUnaligned(as: V.self) }
                        if relu { v = pointwiseMax(v, V(repeating: 0)) }
                        UnsafeMutableRawPointer(yp + offset).storeBytes(of: v, as: V.self)
                    }
                    put(m0 + m1 + m2, 2 * ty, 2 * tx); put(m1 - m2 - m3, 2 * ty, 2 * tx + 1)
                    put(n0 + n1 + n2, 2 * ty + 1, 2 * tx); put(n1 - n2 - n3, 2 * ty + 1, 2 * tx + 1)
                }
            }
        }
        withExtendedLifetime((m, x, residual, bias)) {}
        profiler.end(.convolution, pass: .forward, primitive: stage("output transform"), start)
        return y
    }
}
