import CDNNL

/// Fully connected layers on oneDNN: x [N, in], weights [out, in] (torchvision's `fc.weight`).
extension CPUBackend {
    private func descs(_ n: Int, _ wShape: [Int]) -> (dnnl_memory_desc_t, dnnl_memory_desc_t, dnnl_memory_desc_t, dnnl_memory_desc_t) {
        (memoryDesc([n, wShape[1]], dnnl_nc), memoryDesc(wShape, dnnl_oi), memoryDesc([wShape[0]], dnnl_x), memoryDesc([n, wShape[0]], dnnl_nc))
    }

    private func forwardPrimitive(_ n: Int, _ wShape: [Int], bias: Bool) -> Primitive {
        let (src, w, b, dst) = descs(n, wShape)
        return cache.get(PrimitiveKey(.innerProduct, [[n], wShape], ["b\(bias ? 1 : 0)"])) {
            makePrimitive("inner product", { d in
                var s = src, ww = w, bb = b, o = dst
                if bias { return dnnl_inner_product_forward_desc_init(&d, dnnl_forward_training, &s, &ww, &bb, &o) }
                return dnnl_inner_product_forward_desc_init(&d, dnnl_forward_training, &s, &ww, nil, &o)
            }, empty: dnnl_inner_product_desc_t())
        }
    }

    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        requireFloat32("linear", x, weight, bias)
        precondition(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1],
                     "linear: input \(x.shape) does not match weights \(weight.shape)")
        let n = x.shape[0]
        let (src, w, b, dst) = descs(n, weight.shape)
        let y = Tensor(empty: [n, weight.shape[0]])
        var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
            (DNNL_ARG_SRC, src, raw(x)), (DNNL_ARG_WEIGHTS, w, raw(weight)), (DNNL_ARG_DST, dst, raw(y)),
        ]
        if let bias { args.append((DNNL_ARG_BIAS, b, raw(bias))) }
        forwardPrimitive(n, weight.shape, bias: bias != nil).execute(args)
        return y
    }

    public func linearBackwardData(_ dy: Tensor, weight: Tensor) -> Tensor {
        requireFloat32("linear backward", dy, weight)
        let n = dy.shape[0]
        let (src, w, _, dst) = descs(n, weight.shape)
        let hint = forwardPrimitive(n, weight.shape, bias: false)
        let prim = cache.get(PrimitiveKey(.innerProductBackwardData, [[n], weight.shape])) {
            makePrimitive("inner product backward data", { d in
                var s = src, ww = w, o = dst
                return dnnl_inner_product_backward_data_desc_init(&d, &s, &ww, &o)
            }, empty: dnnl_inner_product_desc_t(), hint: hint)
        }
        let dx = Tensor(empty: [n, weight.shape[1]])
        prim.execute([(DNNL_ARG_DIFF_DST, dst, raw(dy)), (DNNL_ARG_WEIGHTS, w, raw(weight)), (DNNL_ARG_DIFF_SRC, src, raw(dx))])
        return dx
    }

    public func linearBackwardWeights(_ dy: Tensor, input x: Tensor, withBias: Bool) -> (weight: Tensor, bias: Tensor?) {
        requireFloat32("linear backward", dy, x)
        let n = x.shape[0]
        let wShape = [dy.shape[1], x.shape[1]]
        let (src, w, b, dst) = descs(n, wShape)
        let hint = forwardPrimitive(n, wShape, bias: withBias)
        let prim = cache.get(PrimitiveKey(.innerProductBackwardWeights, [[n], wShape], ["b\(withBias ? 1 : 0)"])) {
            makePrimitive("inner product backward weights", { d in
                var s = src, ww = w, bb = b, o = dst
                if withBias { return dnnl_inner_product_backward_weights_desc_init(&d, &s, &ww, &bb, &o) }
                return dnnl_inner_product_backward_weights_desc_init(&d, &s, &ww, nil, &o)
            }, empty: dnnl_inner_product_desc_t(), hint: hint)
        }
        let dw = Tensor(empty: wShape)
        let db = withBias ? Tensor(empty: [wShape[0]]) : nil
        var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
            (DNNL_ARG_SRC, src, raw(x)), (DNNL_ARG_DIFF_DST, dst, raw(dy)), (DNNL_ARG_DIFF_WEIGHTS, w, raw(dw)),
        ]
        if let db { args.append((DNNL_ARG_DIFF_BIAS, b, raw(db))) }
        prim.execute(args)
        return (dw, db)
    }
}
