import CDNNL

/// Max and average pooling on oneDNN over NHWC activations (max keeps a workspace for backward).
extension CPUBackend {
    private func alg(_ kind: PoolKind) -> dnnl_alg_kind_t {
        switch kind {
        case .max: return dnnl_pooling_max
        case .averageIncludePadding: return dnnl_pooling_avg_include_padding
        case .averageExcludePadding: return dnnl_pooling_avg_exclude_padding
        }
    }

    private func poolForward(_ shape: [Int], _ layout: MemoryLayout4D, _ kind: PoolKind, _ g: WindowGeometry, training: Bool) -> (Primitive, [Int]) {
        let outShape = [shape[0], g.outputH, g.outputW, shape[3]]
        let src = activationDesc(shape, layout), dst = activationDesc(outShape, layout)
        let prop = training ? dnnl_forward_training : dnnl_forward_inference
        let prim = cache.get(PrimitiveKey(.pooling, [shape], layout: layout, geometry: g, propagation: training ? .training : .inference, [kind.rawValue])) {
            makePrimitive("pooling", { d in
                var s = src, o = dst
                let n = g.dnnl
                return dnnl_pooling_v2_forward_desc_init(&d, prop, self.alg(kind), &s, &o, n.strides, n.kernel, n.dilation,
                                                         n.padLeft, n.padRight)
            }, empty: dnnl_pooling_v2_desc_t())
        }
        return (prim, outShape)
    }

    public func pool(_ x: Tensor, kind: PoolKind, geometry g: WindowGeometry, training: Bool) -> (y: Tensor, workspace: Storage?) {
        requireFloat32("pooling", x)
        precondition(x.rank == 4 && x.shape[1] == g.inputH && x.shape[2] == g.inputW, "pooling input \(x.shape) does not match \(g)")
        let layout = x.storage.layout
        let (prim, outShape) = poolForward(x.shape, layout, kind, g, training: training)
        let y = emptyActivation(outShape, layout)
        var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
            (DNNL_ARG_SRC, activationDesc(x), raw(x)), (DNNL_ARG_DST, activationDesc(y), raw(y)),
        ]
        var workspace: Storage?
        let wmd = prim.desc(dnnl_query_workspace_md)
        if training && kind == .max && descSize(wmd) > 0 {
            let ws = Storage(count: (descSize(wmd) + 3) / 4)
            ws.layout = layout   // max indices follow the activation's layout; backward must match it
            args.append((DNNL_ARG_WORKSPACE, wmd, raw(ws)))
            workspace = ws
        }
        prim.execute(args)
        return (y, workspace)
    }

    public func poolBackward(_ dy: Tensor, kind: PoolKind, geometry g: WindowGeometry, inputShape: [Int], workspace: Storage?) -> Tensor {
        requireFloat32("pooling backward", dy)
        let layout = workspace?.layout ?? dy.storage.layout
        let dy = conform(dy, to: layout)
        let (hint, outShape) = poolForward(inputShape, layout, kind, g, training: true)
        precondition(dy.shape == outShape, "pooling gradient \(dy.shape), expected \(outShape)")
        let src = activationDesc(inputShape, layout), dst = activationDesc(outShape, layout)
        let prim = cache.get(PrimitiveKey(.poolingBackward, [inputShape], layout: layout, geometry: g, [kind.rawValue])) {
            makePrimitive("pooling backward", { d in
                var s = src, o = dst
                let n = g.dnnl
                return dnnl_pooling_v2_backward_desc_init(&d, self.alg(kind), &s, &o, n.strides, n.kernel, n.dilation,
                                                          n.padLeft, n.padRight)
            }, empty: dnnl_pooling_v2_desc_t(), hint: hint)
        }
        let dx = emptyActivation(inputShape, layout)
        var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
            (DNNL_ARG_DIFF_DST, dst, raw(dy)), (DNNL_ARG_DIFF_SRC, src, raw(dx)),
        ]
        if kind == .max {
            guard let workspace else { preconditionFailure("max pooling backward needs the forward workspace (run forward in training mode)") }
            args.append((DNNL_ARG_WORKSPACE, prim.desc(dnnl_query_workspace_md), raw(workspace)))
        }
        prim.execute(args)
        return dx
    }
}
