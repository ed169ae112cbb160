import CDNNL

/// The activation layout oneDNN's own convolutions want on this CPU, asked of oneDNN rather than
/// assumed: a forward-training convolution with a source of format `any` at ResNet-50's 3x3 shape
/// (64 channels at 56x56) gets the layout its fastest kernel reads. That is nChw16c where oneDNN runs
/// AVX-512 kernels and nChw8c on AVX2 (also under `ONEDNN_MAX_CPU_ISA=AVX2`); a plain or other
/// choice leaves activations NHWC. Asked once per CPU backend, so each context follows the ISA
/// oneDNN dispatches to, with no process-wide state of its own.
enum PreferredActivationLayout {
    /// The representative shape: batch 2 (as `resnet info` probes), 64 -> 64 channels, 3x3, stride 1.
    static let probeShape = (batch: 2, channels: 64, side: 56)

    static func query(engine: dnnl_engine_t) -> MemoryLayout4D {
        let (n, c, side) = probeShape
        var src = memoryDesc([n, c, side, side], dnnl_format_tag_any)
        var weights = memoryDesc([c, c, 3, 3], dnnl_format_tag_any)
        var dst = memoryDesc([n, c, side, side], dnnl_format_tag_any)
        var desc = dnnl_convolution_desc_t()
        let strides: [Int64] = [1, 1], padding: [Int64] = [1, 1]
        guard dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct, &src, &weights, nil, &dst,
                                                 strides, padding, padding) == dnnl_success else { return .nhwc }
        var pd: dnnl_primitive_desc_t?
        guard dnnl_primitive_desc_create(&pd, &desc, nil, engine, nil) == dnnl_success, let pd else { return .nhwc }
        defer { dnnl_primitive_desc_destroy(pd) }
        guard let chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0) else { return .nhwc }
        return layout(of: chosen.pointee)
    }

    /// The engine's layout for an activation descriptor of dims (N, C, H, W): a single inner block
    /// over the channels of a size the engine has (8, 16), else NHWC.
    static func layout(of md: dnnl_memory_desc_t) -> MemoryLayout4D {
        guard md.format_kind == dnnl_blocked else { return .nhwc }
        let blocking = md.format_desc.blocking
        guard blocking.inner_nblks == 1, blocking.inner_idxs.0 == 1 else { return .nhwc }
        return MemoryLayout4D(channelBlock: Int(blocking.inner_blks.0)) ?? .nhwc
    }
}
