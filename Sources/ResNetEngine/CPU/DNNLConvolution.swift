import Foundation
import CDNNL

/// Convolutions on oneDNN: activations in one layout on both sides (nChw8c when both channel counts
/// fill whole blocks, else NHWC: mixed pairs fall to slow reference kernels), weights in whatever
/// blocked format the kernel prefers (`any`), reordered from torchvision's OIHW on the way in.
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

    /// The activation layout of a convolution: nChw8c when both channel counts fill whole blocks and
    /// oneDNN has a fast kernel for it (large dilations on small maps fall to `ref:` blocked), else NHWC.
    func convLayout(_ xShape: [Int], _ wShape: [Int], _ g: WindowGeometry) -> MemoryLayout4D {
        guard preferredLayout(channels: xShape[3]) == .nChw8c && preferredLayout(channels: wShape[0]) == .nChw8c else { return .nhwc }
        return layoutChoice(PrimitiveKey(.convolution, [xShape, wShape], geometry: g)) {
            forwardHint(convDescs(xShape, wShape, g, layout: .nChw8c), g, bias: false).implementation.hasPrefix("ref") ? .nhwc : .nChw8c
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

    private func convolutionPrimitive(_ d: ConvDescs, geometry g: WindowGeometry, bias: Bool,
                                      residual: Bool, relu: Bool, training: Bool) -> Primitive {
        let biasMD: dnnl_memory_desc_t? = bias ? memoryDesc([d.wShape[0]], dnnl_x) : nil
        let key = PrimitiveKey(.convolution, [d.xShape, d.wShape], layout: d.layout, geometry: g,
                               ["b\(bias ? 1 : 0)", "r\(residual ? 1 : 0)", "relu\(relu ? 1 : 0)", "t\(training ? 1 : 0)"])
        return cache.get(key) {
            var po: dnnl_post_ops_t?
            dnnlCheck(dnnl_post_ops_create(&po), "post-ops create")
            defer { dnnl_post_ops_destroy(po) }
            if residual {
                var r = d.dst
                dnnlCheck(dnnl_post_ops_append_binary(po, dnnl_binary_add, &r), "residual post-op")
            }
            if relu { dnnlCheck(dnnl_post_ops_append_eltwise(po, 1, dnnl_eltwise_relu, 0, 0), "relu post-op") }
            let prop = training ? dnnl_forward_training : dnnl_forward_inference
            return makePrimitive("convolution", { self.initConv(&$0, prop: prop, src: d.src, weights: d.weights, bias: biasMD, dst: d.dst, g) },
                                 empty: dnnl_convolution_desc_t(), postOps: po)
        }
    }

    public func convolution(_ x: Tensor, weight: Tensor, bias: Tensor?, attributes: ConvolutionAttributes) -> Tensor {
        let g = attributes.geometry, (added, relu) = attributes.residualAndReLU, training = attributes.propagation == .training
        requireFloat32("convolution", x, weight, bias, added)
        let layout = convLayout(x.shape, weight.shape, g)
        let d = convDescs(x.shape, weight.shape, g, layout: layout)
        if let added { precondition(added.shape == d.dstShape, "residual \(added.shape) does not match convolution output \(d.dstShape)") }
        let x = conform(x, to: layout)
        let residual = added.map { conform($0, to: layout) }
        // Winograd's transform and products assume every input channel meets every filter.
        if !training && d.groups == 1 && options.winograd && Winograd.applies(x.shape, weight.shape, g, layout: layout) {
            let u = weightCache.cached(weight, key: Data("winograd F(2x2,3x3)".utf8), make: Winograd.transformWeights)
            return Winograd.convolution(x, transformed: u, outputChannels: weight.shape[0], bias: bias, residual: residual, relu: relu,
                                        profiler: profiler)
        }
        let prim = convolutionPrimitive(d, geometry: g, bias: bias != nil, residual: residual != nil, relu: relu, training: training)
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
        if let residual { args.append((DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE | DNNL_ARG_SRC_1, d.dst, raw(residual))) }
        prim.execute(args)
        withExtendedLifetime(keep) {}
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
