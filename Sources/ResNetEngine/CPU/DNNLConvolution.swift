import Foundation
import CDNNL

/// Convolutions on oneDNN: activations in one layout on both sides (the backend's blocked layout,
/// nChw8c or nChw16c, when both channel counts fill whole blocks, else NHWC: mixed pairs fall to
/// slow reference kernels), weights in whatever blocked format the kernel prefers (`any`),
/// reordered from torchvision's OIHW on the way in.
///
/// Grouped convolutions (ResNeXt's 3x3, Xie et al. 2017) need no extra argument: weights are
/// [O, I/groups, KH, KW], as torchvision stores them, so groups = input channels / weights' dim 1.
/// Those bytes are exactly oneDNN's 5-D `goihw` [groups, O/groups, I/groups, KH, KW]: only the descriptor differs.
extension CPUBackend {
    /// The groups of a convolution of `inputChannels` channels with OIHW-shaped weights `wShape`.
    func convGroups(inputChannels: Int, _ wShape: [Int]) -> Int {
        precondition(wShape.count == 4 && wShape[1] > 0 && inputChannels % wShape[1] == 0,
                     "convolution input has \(inputChannels) channels, not a multiple of the weights' \(wShape) input channels per group")
        let groups = inputChannels / wShape[1]
        precondition(wShape[0] % groups == 0, "convolution weights \(wShape) do not split into \(groups) groups of output channels")
        return groups
    }

    /// oneDNN's dims of the weights: OIHW, or GOIHW when grouped.
    private func weightDims(_ wShape: [Int], groups: Int) -> [Int] {
        groups == 1 ? wShape : [groups, wShape[0] / groups] + wShape.dropFirst()
    }

    /// The weights as they lie in a tensor: `oihw`, or its grouped twin `goihw` (the same bytes).
    func plainWeightDesc(_ wShape: [Int], groups: Int) -> dnnl_memory_desc_t {
        memoryDesc(weightDims(wShape, groups: groups), groups == 1 ? dnnl_oihw : dnnl_goihw)
    }

    /// The activation layout of a convolution: the blocked layout when both channel counts fill whole
    /// blocks and oneDNN has a fast kernel for it (large dilations on small maps fall to `ref:`
    /// blocked), else NHWC. A layout the options force is kept on reference kernels too.
    func convLayout(_ xShape: [Int], _ wShape: [Int], _ g: WindowGeometry) -> MemoryLayout4D {
        let blocked = preferredLayout(channels: xShape[3])
        guard blocked != .nhwc && preferredLayout(channels: wShape[0]) == blocked else { return .nhwc }
        guard options.activationLayout == .blocked else { return blocked }
        return layoutChoice(PrimitiveKey(.convolution, [xShape, wShape], geometry: g)) {
            forwardHint(convDescs(xShape, wShape, g, layout: blocked), g, bias: false).implementation.hasPrefix("ref") ? .nhwc : blocked
        }
    }

    /// A convolution's oneDNN descriptors in one layout, with its shapes and group count, made once
    /// per call and handed to every primitive the call builds.
    struct ConvDescs {
        let xShape: [Int], wShape: [Int], dstShape: [Int]
        let groups: Int
        let layout: MemoryLayout4D
        let src: dnnl_memory_desc_t, weights: dnnl_memory_desc_t, dst: dnnl_memory_desc_t
    }

    private func convDescs(_ xShape: [Int], _ wShape: [Int], _ g: WindowGeometry, layout: MemoryLayout4D) -> ConvDescs {
        precondition(xShape.count == 4 && wShape.count == 4, "convolution wants NHWC input and OIHW weights, got \(xShape) and \(wShape)")
        let groups = convGroups(inputChannels: xShape[3], wShape)
        precondition(wShape[2] == g.kh && wShape[3] == g.kw, "weights \(wShape) do not match kernel \(g.kh)x\(g.kw)")
        let dstShape = [xShape[0], g.outputH, g.outputW, wShape[0]]
        return ConvDescs(xShape: xShape, wShape: wShape, dstShape: dstShape, groups: groups, layout: layout, src: activationDesc(xShape, layout),
                         weights: anyDesc(weightDims(wShape, groups: groups)), dst: activationDesc(dstShape, layout))
    }

    private func initConv(_ d: inout dnnl_convolution_desc_t, prop: dnnl_prop_kind_t, src: dnnl_memory_desc_t,
                          weights: dnnl_memory_desc_t, bias: dnnl_memory_desc_t?, dst: dnnl_memory_desc_t,
                          _ g: WindowGeometry) -> dnnl_status_t {
        var s = src, w = weights, o = dst
        let n = g.dnnl
        if var b = bias {
            return dnnl_dilated_convolution_forward_desc_init(&d, prop, dnnl_convolution_direct, &s, &w, &b, &o,
                                                              n.strides, n.dilation, n.padLeft, n.padRight)
        }
        return dnnl_dilated_convolution_forward_desc_init(&d, prop, dnnl_convolution_direct, &s, &w, nil, &o,
                                                          n.strides, n.dilation, n.padLeft, n.padRight)
    }

    /// The forward-training primitive without post-ops: the hint oneDNN needs for the backward ones.
    private func forwardHint(_ d: ConvDescs, _ g: WindowGeometry, bias: Bool) -> Primitive {
        let biasMD: dnnl_memory_desc_t? = bias ? memoryDesc([d.wShape[0]], dnnl_x) : nil
        return cache.get(PrimitiveKey(.convolutionHint, [d.xShape, d.wShape], layout: d.layout, geometry: g, ["b\(bias ? 1 : 0)"])) {
            makePrimitive("convolution", { self.initConv(&$0, prop: dnnl_forward_training, src: d.src, weights: d.weights, bias: biasMD, dst: d.dst, g) },
                          empty: dnnl_convolution_desc_t())
        }
    }

    private func convolutionPrimitive(_ d: ConvDescs, geometry g: WindowGeometry, bias: Bool, postOps: FusedPostOps, training: Bool) -> Primitive {
        let biasMD: dnnl_memory_desc_t? = bias ? memoryDesc([d.wShape[0]], dnnl_x) : nil
        let key = PrimitiveKey(.convolution, [d.xShape, d.wShape], layout: d.layout, geometry: g, propagation: training ? .training : .inference,
                               ["b\(bias ? 1 : 0)", postOps.keyName])
        return cache.get(key) {
            let po = postOps.dnnlPostOps(dst: d.dst)
            defer { dnnl_post_ops_destroy(po) }
            let prop = training ? dnnl_forward_training : dnnl_forward_inference
            return makePrimitive("convolution", { self.initConv(&$0, prop: prop, src: d.src, weights: d.weights, bias: biasMD, dst: d.dst, g) },
                                 empty: dnnl_convolution_desc_t(), postOps: po)
        }
    }

    public func convolution(_ x: Tensor, weight: Tensor, bias: Tensor?, attributes: ConvolutionAttributes) -> Tensor {
        let g = attributes.geometry, training = attributes.propagation == .training
        requireFloat32("convolution", x, weight, bias)
        let layout = convLayout(x.shape, weight.shape, g)
        let d = convDescs(x.shape, weight.shape, g, layout: layout)
        let postOps = FusedPostOps(attributes.postOps, outputShape: d.dstShape).conformed { conform($0, to: layout) }
        let x = conform(x, to: layout)
        // Winograd's transform and products assume every input channel meets every filter.
        if !training && d.groups == 1 && options.winograd && Winograd.applies(x.shape, weight.shape, g, layout: layout) {
            let u = weightCache.cached(weight, key: Data("winograd F(2x2,3x3)".utf8), make: Winograd.transformWeights)
            let epilogue = postOps.winogradEpilogue
            cache.record(PrimitiveKey(.convolution, [x.shape, weight.shape], layout: layout, geometry: g, propagation: .inference,
                                      ["b\(bias != nil ? 1 : 0)", postOps.keyName]),
                         implementation: Winograd.implementation(layout: layout))
            return Winograd.convolution(x, transformed: u, outputChannels: weight.shape[0], bias: bias, residual: epilogue.residual,
                                        relu: epilogue.relu, profiler: profiler)
        }
        let prim = convolutionPrimitive(d, geometry: g, bias: bias != nil, postOps: postOps, training: training)
        let wanted = prim.desc(dnnl_query_weights_md), plain = plainWeightDesc(weight.shape, groups: d.groups)
        // Inference keeps its weights reordered between calls; training's change every step.
        let (wPtr, keep): (UnsafeMutableRawPointer, Storage?)
        if training || descEqual(plain, wanted) {
            (wPtr, keep) = blockedWeights(weight, plain: plain, wanted: wanted)
        } else {
            let cached = cachedBlockedWeights(weight, plain: plain, wanted: wanted)
            (wPtr, keep) = (raw(cached), cached)
        }
        let y = emptyActivation(d.dstShape, layout)
        var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
            (DNNL_ARG_SRC, d.src, raw(x)), (DNNL_ARG_WEIGHTS, wanted, wPtr), (DNNL_ARG_DST, d.dst, raw(y)),
        ]
        if let bias { args.append((DNNL_ARG_BIAS, memoryDesc([bias.count], dnnl_x), raw(bias))) }
        args += postOps.arguments(dst: d.dst)
        prim.execute(args)
        withExtendedLifetime((keep, postOps)) {}
        return y
    }

    public func convolutionBackwardData(_ dy: Tensor, weight: Tensor, geometry g: WindowGeometry, inputShape: [Int]) -> Tensor {
        requireFloat32("convolution backward", dy, weight)
        let layout = convLayout(inputShape, weight.shape, g)
        let d = convDescs(inputShape, weight.shape, g, layout: layout)
        precondition(dy.shape == d.dstShape, "convolution gradient \(dy.shape), expected \(d.dstShape)")
        let hint = forwardHint(d, g, bias: false)
        let dy = conform(dy, to: layout)
        let prim = cache.get(PrimitiveKey(.convolutionBackwardData, [inputShape, weight.shape], layout: layout, geometry: g)) {
            makePrimitive("convolution backward data", { desc in
                var s = d.src, ww = d.weights, o = d.dst
                let n = g.dnnl
                return dnnl_dilated_convolution_backward_data_desc_init(
                    &desc, dnnl_convolution_direct, &s, &ww, &o, n.strides, n.dilation, n.padLeft, n.padRight)
            }, empty: dnnl_convolution_desc_t(), hint: hint)
        }
        let wanted = prim.desc(dnnl_query_weights_md)
        let (wPtr, keep) = blockedWeights(weight, plain: plainWeightDesc(weight.shape, groups: d.groups), wanted: wanted)
        let dx = emptyActivation(inputShape, layout)
        prim.execute([(DNNL_ARG_DIFF_DST, d.dst, raw(dy)), (DNNL_ARG_WEIGHTS, wanted, wPtr), (DNNL_ARG_DIFF_SRC, d.src, raw(dx))])
        withExtendedLifetime(keep) {}
        return dx
    }

    public func convolutionBackwardWeights(_ dy: Tensor, input x: Tensor, geometry g: WindowGeometry,
                                           weightShape: [Int], withBias: Bool) -> (weight: Tensor, bias: Tensor?) {
        requireFloat32("convolution backward", dy, x)
        let layout = convLayout(x.shape, weightShape, g)
        let d = convDescs(x.shape, weightShape, g, layout: layout)
        precondition(dy.shape == d.dstShape, "convolution gradient \(dy.shape), expected \(d.dstShape)")
        let biasMD = memoryDesc([weightShape[0]], dnnl_x)
        let x = conform(x, to: layout)
        let dy = conform(dy, to: layout)
        let hint = forwardHint(d, g, bias: withBias)
        let prim = cache.get(PrimitiveKey(.convolutionBackwardWeights, [x.shape, weightShape], layout: layout, geometry: g, ["b\(withBias ? 1 : 0)"])) {
            makePrimitive("convolution backward weights", { desc in
                var s = d.src, ww = d.weights, o = d.dst, b = biasMD
                let n = g.dnnl
                if withBias {
                    return dnnl_dilated_convolution_backward_weights_desc_init(
                        &desc, dnnl_convolution_direct, &s, &ww, &b, &o, n.strides, n.dilation, n.padLeft, n.padRight)
                }
                return dnnl_dilated_convolution_backward_weights_desc_init(
                    &desc, dnnl_convolution_direct, &s, &ww, nil, &o, n.strides, n.dilation, n.padLeft, n.padRight)
            }, empty: dnnl_convolution_desc_t(), hint: hint)
        }
        let wanted = prim.desc(dnnl_query_diff_weights_md)
        let plain = plainWeightDesc(weightShape, groups: d.groups)
        let dw = Tensor(empty: weightShape)
        let blocked = descEqual(plain, wanted) ? nil : Storage(count: (descSize(wanted) + 3) / 4)
        let db = withBias ? Tensor(empty: [weightShape[0]]) : nil
        var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
            (DNNL_ARG_SRC, d.src, raw(x)), (DNNL_ARG_DIFF_DST, d.dst, raw(dy)),
            (DNNL_ARG_DIFF_WEIGHTS, wanted, blocked.map(raw) ?? raw(dw)),
        ]
        if let db { args.append((DNNL_ARG_DIFF_BIAS, biasMD, raw(db))) }
        prim.execute(args)
        if let blocked { withExtendedLifetime(blocked) { reorder(from: wanted, raw(blocked), to: plain, raw(dw)) } }
        return (dw, db)
    }
}

/// A convolution's post-ops as the CPU kernels fuse them: `ConvolutionAttributes.postOps`, checked
/// once per call, and turned into oneDNN's post-op list and arguments in the list's own order.
struct FusedPostOps {
    /// The lists the CPU convolutions fuse, by their ops' names: the end of a v1 residual unit and
    /// its parts. oneDNN takes any order, but Winograd's output transform applies only these.
    static let supported: Set<[String]> = [[], ["add"], ["relu"], ["add", "relu"]]

    let ops: [PostOp]
    /// The ops' names in order ("add", "relu").
    let names: [String]

    /// Traps on a list the kernels do not fuse, and on an added tensor that is not a float32 of the output's shape.
    init(_ ops: [PostOp], outputShape: [Int]) {
        let names = ops.map(Self.name)
        precondition(Self.supported.contains(names), "the CPU convolution fuses the post-ops "
            + Self.supported.map { "[\($0.joined(separator: ", "))]" }.sorted().joined(separator: ", ") + ", got [\(names.joined(separator: ", "))]")
        for case .add(let t) in ops {
            requireFloat32("convolution post-op add", t)
            precondition(t.shape == outputShape, "residual \(t.shape) does not match convolution output \(outputShape)")
        }
        (self.ops, self.names) = (ops, names)
    }

    private init(checked ops: [PostOp], names: [String]) { (self.ops, self.names) = (ops, names) }

    private static func name(_ op: PostOp) -> String {
        switch op {
        case .add: return "add"
        case .relu: return "relu"
        }
    }

    /// The same list with each added tensor replaced by `f`'s (its copy in the convolution's layout).
    func conformed(_ f: (Tensor) -> Tensor) -> FusedPostOps {
        FusedPostOps(checked: ops.map { op -> PostOp in
            guard case .add(let t) = op else { return op }
            return .add(f(t))
        }, names: names)
    }

    /// The list as primitive keys name it: two lists with other ops or another order make other primitives.
    var keyName: String { "post[\(names.joined(separator: ","))]" }

    /// The list as Winograd's output transform applies it after the bias: the added tensor, if any,
    /// then ReLU or not. Every supported list has this form.
    var winogradEpilogue: (residual: Tensor?, relu: Bool) {
        var residual: Tensor?
        for case .add(let t) in ops { residual = t }
        return (residual, names.last == "relu")
    }

    /// oneDNN's post-op list, op by op in order; each add takes a tensor described like the output
    /// (`dst`). The caller destroys it.
    func dnnlPostOps(dst: dnnl_memory_desc_t) -> dnnl_post_ops_t? {
        var po: dnnl_post_ops_t?
        dnnlCheck(dnnl_post_ops_create(&po), "post-ops create")
        for op in ops {
            switch op {
            case .add:
                var r = dst
                dnnlCheck(dnnl_post_ops_append_binary(po, dnnl_binary_add, &r), "add post-op")
            case .relu:
                dnnlCheck(dnnl_post_ops_append_eltwise(po, 1, dnnl_eltwise_relu, 0, 0), "relu post-op")
            }
        }
        return po
    }

    /// Each added tensor as the execution argument of its post-op, numbered by its place in the list
    /// (oneDNN's DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1).
    func arguments(dst: dnnl_memory_desc_t) -> [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] {
        ops.enumerated().compactMap { index, op in
            guard case .add(let t) = op else { return nil }
            return (DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE * Int32(index + 1) | DNNL_ARG_SRC_1, dst, raw(t))
        }
    }
}
