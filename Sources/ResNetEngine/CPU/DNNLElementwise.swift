import CDNNL

/// Elementwise ops on oneDNN, so that they run on the same OpenMP pool as the convolutions
/// (mixing oneDNN's spinning OpenMP threads with another pool slows both down; see CPU.md).
/// Every tensor is seen as one flat vector: these ops do not care about layout, as long as their
/// operands share one; outputs take the first operand's.
extension CPUBackend {
    private func flat(_ n: Int) -> dnnl_memory_desc_t { memoryDesc([n], dnnl_a) }

    private func eltwiseForward(_ n: Int, _ alg: dnnl_alg_kind_t, alpha: Float = 0, beta: Float = 0) -> Primitive {
        let md = flat(n)
        return cache.get(PrimitiveKey(.eltwise, [[n]], ["\(alg.rawValue)", "\(alpha)", "\(beta)"])) {
            makePrimitive("eltwise", { d in
                var m = md
                return dnnl_eltwise_forward_desc_init(&d, dnnl_forward_training, alg, &m, alpha, beta)
            }, empty: dnnl_eltwise_desc_t())
        }
    }

    private func eltwise(_ x: Tensor, _ alg: dnnl_alg_kind_t, alpha: Float = 0, beta: Float = 0) -> Tensor {
        let y = emptyLike(x)
        let md = flat(x.count)
        eltwiseForward(x.count, alg, alpha: alpha, beta: beta).execute([(DNNL_ARG_SRC, md, raw(x)), (DNNL_ARG_DST, md, raw(y))])
        return y
    }

    public func relu(_ x: Tensor) -> Tensor {
        requireFloat32("ReLU", x)
        return eltwise(x, dnnl_eltwise_relu_use_dst_for_bwd)
    }

    public func reluBackward(_ dy: Tensor, output y: Tensor) -> Tensor {
        requireFloat32("ReLU backward", dy, y)
        precondition(dy.count == y.count, "ReLU gradient \(dy.shape) does not match output \(y.shape)")
        let n = y.count, md = flat(n)
        let hint = eltwiseForward(n, dnnl_eltwise_relu_use_dst_for_bwd)
        let prim = cache.get(PrimitiveKey(.reluBackward, [[n]])) {
            makePrimitive("relu backward", { d in
                var dm = md, m = md
                return dnnl_eltwise_backward_desc_init(&d, dnnl_eltwise_relu_use_dst_for_bwd, &dm, &m, 0, 0)
            }, empty: dnnl_eltwise_desc_t(), hint: hint)
        }
        let dy = conform(dy, to: y.storage.layout)
        let dx = emptyLike(y)
        prim.execute([(DNNL_ARG_DST, md, raw(y)), (DNNL_ARG_DIFF_DST, md, raw(dy)), (DNNL_ARG_DIFF_SRC, md, raw(dx))])
        return dx
    }

    public func scale(_ x: Tensor, by alpha: Float) -> Tensor {
        requireFloat32("scale", x)
        return eltwise(x, dnnl_eltwise_linear, alpha: alpha, beta: 0)
    }

    private func binary(_ a: Tensor, _ b: Tensor, _ alg: dnnl_alg_kind_t, into out: Tensor, relu: Bool = false) {
        precondition(a.count == b.count, "elementwise op on \(a.shape) and \(b.shape)")
        let b = conform(b, to: a.storage.layout)
        let n = a.count, md = flat(n)
        let prim = cache.get(PrimitiveKey(.binary, [[n]], ["\(alg.rawValue)", "relu\(relu ? 1 : 0)"])) {
            var po: dnnl_post_ops_t?
            dnnlCheck(dnnl_post_ops_create(&po), "post-ops create")
            defer { dnnl_post_ops_destroy(po) }
            if relu { dnnlCheck(dnnl_post_ops_append_eltwise(po, 1, dnnl_eltwise_relu, 0, 0), "relu post-op") }
            return makePrimitive("binary", { d in
                var x = md, y = md, z = md
                return dnnl_binary_desc_init(&d, alg, &x, &y, &z)
            }, empty: dnnl_binary_desc_t(), postOps: po)
        }
        prim.execute([(DNNL_ARG_SRC_0, md, raw(a)), (DNNL_ARG_SRC_1, md, raw(b)), (DNNL_ARG_DST, md, raw(out))])
    }

    public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        requireFloat32("add", a, b)
        let y = emptyLike(a)
        binary(a, b, dnnl_binary_add, into: y)
        return y
    }

    public func addReLU(_ a: Tensor, _ b: Tensor) -> Tensor {
        requireFloat32("addReLU", a, b)
        let y = emptyLike(a)
        binary(a, b, dnnl_binary_add, into: y, relu: true)
        return y
    }

    public func addInPlace(_ a: Tensor, _ b: Tensor) {
        requireFloat32("addInPlace", a, b)
        binary(a, b, dnnl_binary_add, into: a)
        a.storage.markModified()
    }

    public func multiply(_ a: Tensor, _ b: Tensor) -> Tensor {
        requireFloat32("multiply", a, b)
        let y = emptyLike(a)
        binary(a, b, dnnl_binary_mul, into: y)
        return y
    }
}
