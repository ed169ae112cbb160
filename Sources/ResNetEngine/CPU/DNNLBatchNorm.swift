import CDNNL

/// Batch normalization on oneDNN over NHWC activations, optionally fused with the ReLU that
/// follows it in every ResNet unit (one memory pass instead of two; backward uses a bit mask).
extension CPUBackend {
    private func flags(scale: Bool, relu: Bool, globalStats: Bool = false) -> UInt32 {
        var f = dnnl_use_shift.rawValue
        if scale { f |= dnnl_use_scale.rawValue }
        if relu { f |= dnnl_fuse_norm_relu.rawValue }
        if globalStats { f |= dnnl_use_global_stats.rawValue }
        return f
    }

    private func forwardPrimitive(_ shape: [Int], _ layout: MemoryLayout4D, epsilon: Float, flags f: UInt32, prop: dnnl_prop_kind_t) -> Primitive {
        let md = activationDesc(shape, layout)
        return cache.get(PrimitiveKey(.batchNorm, [shape], layout: layout, ["\(epsilon)", "\(f)", "\(prop.rawValue)"])) {
            makePrimitive("batch norm", { d in
                var m = md
                return dnnl_batch_normalization_forward_desc_init(&d, prop, &m, epsilon, f)
            }, empty: dnnl_batch_normalization_desc_t())
        }
    }

    private func channelDesc(_ c: Int) -> dnnl_memory_desc_t { memoryDesc([c], dnnl_x) }

    public func batchNormTraining(_ x: Tensor, scale: Tensor?, shift: Tensor, attributes: BatchNormAttributes)
        -> (y: Tensor, mean: Tensor, variance: Tensor, workspace: Storage?) {
        let (epsilon, relu) = (attributes.epsilon, attributes.fusedReLU)
        requireFloat32("batch norm", x, scale, shift)
        let c = x.shape[3]
        precondition(shift.count == c && (scale?.count ?? c) == c, "batch norm parameters do not match \(c) channels")
        let layout = x.storage.layout
        let prim = forwardPrimitive(x.shape, layout, epsilon: epsilon, flags: flags(scale: scale != nil, relu: relu), prop: dnnl_forward_training)
        let md = activationDesc(x), cmd = channelDesc(c)
        let y = emptyLike(x), mean = Tensor(empty: [c]), variance = Tensor(empty: [c])
        var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
            (DNNL_ARG_SRC, md, raw(x)), (DNNL_ARG_DST, md, raw(y)), (DNNL_ARG_MEAN, cmd, raw(mean)),
            (DNNL_ARG_VARIANCE, cmd, raw(variance)), (DNNL_ARG_SHIFT, cmd, raw(shift)),
        ]
        if let scale { args.append((DNNL_ARG_SCALE, cmd, raw(scale))) }
        var workspace: Storage?
        if relu {
            let wmd = prim.desc(dnnl_query_workspace_md)
            let ws = Storage(count: (descSize(wmd) + 3) / 4)
            ws.layout = layout   // the ReLU mask is in the activation's layout; backward must match it
            args.append((DNNL_ARG_WORKSPACE, wmd, raw(ws)))
            workspace = ws
        }
        prim.execute(args)
        return (y, mean, variance, workspace)
    }

    public func batchNormInference(_ x: Tensor, scale: Tensor?, shift: Tensor, mean: Tensor, variance: Tensor,
                                   attributes: BatchNormAttributes) -> Tensor {
        let (epsilon, relu) = (attributes.epsilon, attributes.fusedReLU)
        requireFloat32("batch norm", x, scale, shift, mean, variance)
        let c = x.shape[3]
        let layout = x.storage.layout
        let prim = forwardPrimitive(x.shape, layout, epsilon: epsilon, flags: flags(scale: scale != nil, relu: relu, globalStats: true),
                                    prop: dnnl_forward_inference)
        let md = activationDesc(x), cmd = channelDesc(c)
        let y = emptyLike(x)
        var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
            (DNNL_ARG_SRC, md, raw(x)), (DNNL_ARG_DST, md, raw(y)), (DNNL_ARG_MEAN, cmd, raw(mean)),
            (DNNL_ARG_VARIANCE, cmd, raw(variance)), (DNNL_ARG_SHIFT, cmd, raw(shift)),
        ]
        if let scale { args.append((DNNL_ARG_SCALE, cmd, raw(scale))) }
        prim.execute(args)
        return y
    }

    public func batchNormBackward(_ dy: Tensor, input x: Tensor, scale: Tensor?, mean: Tensor, variance: Tensor,
                                  attributes: BatchNormAttributes, workspace: Storage?, statistics: NormalizationStatistics)
        -> (dx: Tensor, dscale: Tensor?, dshift: Tensor) {
        let (epsilon, relu, globalStatistics) = (attributes.epsilon, attributes.fusedReLU, statistics == .running)
        requireFloat32("batch norm backward", dy, x, scale, mean, variance)
        let c = x.shape[3]
        if globalStatistics {
            precondition(!relu, "backward through frozen batch norm takes its ReLU separately")
            return frozenBackward(dy, input: x, scale: scale, mean: mean, variance: variance, epsilon: epsilon)
        }
        let f = flags(scale: scale != nil, relu: relu)
        let layout = workspace?.layout ?? x.storage.layout
        let x = conform(x, to: layout)
        let dy = conform(dy, to: layout)
        let hint = forwardPrimitive(x.shape, layout, epsilon: epsilon, flags: f, prop: dnnl_forward_training)
        let md = activationDesc(x.shape, layout), cmd = channelDesc(c)
        let prim = cache.get(PrimitiveKey(.batchNormBackward, [x.shape], layout: layout, ["\(epsilon)", "\(f)"])) {
            makePrimitive("batch norm backward", { d in
                var m = md, dm = md
                return dnnl_batch_normalization_backward_desc_init(&d, dnnl_backward, &dm, &m, epsilon, f)
            }, empty: dnnl_batch_normalization_desc_t(), hint: hint)
        }
        let dx = emptyActivation(x.shape, layout), dshift = Tensor(empty: [c])
        var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
            (DNNL_ARG_SRC, md, raw(x)), (DNNL_ARG_DIFF_DST, md, raw(dy)), (DNNL_ARG_MEAN, cmd, raw(mean)),
            (DNNL_ARG_VARIANCE, cmd, raw(variance)), (DNNL_ARG_DIFF_SRC, md, raw(dx)), (DNNL_ARG_DIFF_SHIFT, cmd, raw(dshift)),
        ]
        // Fix: oneDNN 2.6's batch-norm backward with `dnnl_use_shift` counts the shift as one of its
        // inputs (n_inputs = 4 + use_scale + use_shift + workspace) and fails with invalid_arguments
        // unless DNNL_ARG_SHIFT is passed, although no gradient depends on its value. The protocol
        // does not hand the shift to backward, so a zero vector stands in for it.
        let shiftPlaceholder = Tensor(zeros: [c])
        args.append((DNNL_ARG_SHIFT, cmd, raw(shiftPlaceholder)))
        // The scale's gradient exists exactly when the scale does: made here, with its arguments.
        var dscale: Tensor?
        if let scale {
            let d = Tensor(empty: [c])
            args += [(DNNL_ARG_SCALE, cmd, raw(scale)), (DNNL_ARG_DIFF_SCALE, cmd, raw(d))]
            dscale = d
        }
        if relu {
            guard let workspace else { preconditionFailure("fused batch norm + ReLU backward needs its forward workspace") }
            args.append((DNNL_ARG_WORKSPACE, prim.desc(dnnl_query_workspace_md), raw(workspace)))
        }
        prim.execute(args)
        withExtendedLifetime(shiftPlaceholder) {}
        return (dx, dscale, dshift)
    }

    /// Backward through batch norm with fixed (running) statistics, where the normalization is a
    /// per-channel affine map: dx = dy * gamma / sqrt(var + eps). Plain Swift: a rare fine-tuning path,
    /// one cheap pass, checked against the float64 reference in the tests.
    private func frozenBackward(_ dy: Tensor, input x: Tensor, scale: Tensor?, mean: Tensor, variance: Tensor,
                                epsilon: Float) -> (dx: Tensor, dscale: Tensor?, dshift: Tensor) {
        let t = profiler.begin(); defer { profiler.end(.batchNorm, pass: .backward, t) }
        let c = x.shape[3], rows = x.count / c
        let variances = variance.storage.pointer, gammas = scale?.storage.pointer
        let inv = (0..<c).map { j in 1 / (variances[j] + epsilon).squareRoot() }
        let factor = (0..<c).map { j in (gammas?[j] ?? 1) * inv[j] }
        let dx = Tensor(empty: x.shape), dshift = Tensor(zeros: [c]), dscale = scale.map { _ in Tensor(zeros: [c]) }
        let out = dx.storage.pointer, m = mean.storage.pointer
        let ds = dshift.storage.pointer, dg = dscale?.storage.pointer
        dy.withHostValues { g in x.withHostValues { xs in
            for r in 0..<rows {
                let base = r * c
                for j in 0..<c {
                    let d = g[base + j]
                    out[base + j] = d * factor[j]
                    ds[j] += d
                    if let dg { dg[j] += d * (xs[base + j] - m[j]) * inv[j] }
                }
            }
        } }
        return (dx, dscale, dshift)
    }
}
