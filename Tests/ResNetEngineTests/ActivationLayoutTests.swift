import XCTest
import CDNNL
@testable import ResNetEngine

/// The blocked activation layout comes from oneDNN, per backend: whatever its convolutions pick for
/// a source of format `any` on this CPU (nChw16c with AVX-512, nChw8c with AVX2), never a constant.
final class ActivationLayoutTests: XCTestCase {
    /// The layout oneDNN picks for the source of a forward-training convolution of these ResNet shapes,
    /// asked here directly through oneDNN's C API (not through the engine's probe).
    private func oneDNNChoice(channels: Int, outputs: Int, side: Int, kernel: Int, stride: Int) -> (format: dnnl_format_kind_t, blocks: [Int64], index: Int64) {
        var engine: dnnl_engine_t?
        XCTAssertEqual(dnnl_engine_create(&engine, dnnl_cpu, 0), dnnl_success)
        defer { dnnl_engine_destroy(engine) }
        let pad = Int64(kernel / 2), out = Int64((side + 2 * (kernel / 2) - kernel) / stride + 1)
        func any(_ dims: [Int64]) -> dnnl_memory_desc_t {
            var md = dnnl_memory_desc_t()
            XCTAssertEqual(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims, dnnl_f32, dnnl_format_tag_any), dnnl_success)
            return md
        }
        var src = any([2, Int64(channels), Int64(side), Int64(side)]), w = any([Int64(outputs), Int64(channels), Int64(kernel), Int64(kernel)])
        var dst = any([2, Int64(outputs), out, out])
        var desc = dnnl_convolution_desc_t()
        XCTAssertEqual(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct, &src, &w, nil, &dst,
                                                          [Int64(stride), Int64(stride)], [pad, pad], [pad, pad]), dnnl_success)
        var pd: dnnl_primitive_desc_t?
        XCTAssertEqual(dnnl_primitive_desc_create(&pd, &desc, nil, engine, nil), dnnl_success)
        defer { dnnl_primitive_desc_destroy(pd) }
        let md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0)!.pointee
        let b = md.format_desc.blocking
        let blocks = withUnsafeBytes(of: b.inner_blks) { Array($0.bindMemory(to: Int64.self).prefix(Int(b.inner_nblks))) }
        return (md.format_kind, blocks, b.inner_idxs.0)
    }

    func testBlockedLayoutIsWhatOneDNNPicksForResNetShapes() throws {
        let backend = CPUBackend(options: EngineOptions())
        // ResNet-50's 3x3 at 56 (the probe's own shape), a 1x1 reduce, a strided 3x3, a 1x1 expand at 7x7.
        for (c, k, side, kernel, stride) in [(64, 64, 56, 3, 1), (256, 64, 56, 1, 1), (128, 128, 56, 3, 2), (512, 2048, 7, 1, 1)] {
            let choice = oneDNNChoice(channels: c, outputs: k, side: side, kernel: kernel, stride: stride)
            if choice.format == dnnl_blocked && choice.blocks.count == 1 && choice.index == 1 {
                XCTAssertEqual(backend.blockedLayout.channelBlock, Int(choice.blocks[0]), "\(c)->\(k) \(kernel)x\(kernel)/\(stride) at \(side)")
            } else {
                XCTAssertEqual(backend.blockedLayout, .nhwc, "oneDNN picks no single channel block for \(c)->\(k) at \(side): \(choice)")
            }
        }
        // And what that means on the ISAs oneDNN 2.6 has: 16 channels (one zmm register) with AVX-512, 8 (one ymm) with AVX2.
        let isa = OneDNN.isa
        if isa.hasAVX512 {
            XCTAssertEqual(backend.blockedLayout, .nChw16c, "\(isa)")
        } else if isa == .avx2 || isa == .avx2VNNI {
            XCTAssertEqual(backend.blockedLayout, .nChw8c, "\(isa): nothing may change on AVX2-only machines")
        }
        print("ISA \(isa): activations \(backend.blockedLayout)")
    }

    /// Forced layouts are kept as given; NHWC turns blocking off; the option reads from SWIFTRESNET_LAYOUT.
    func testLayoutOptionsAndTheirEnvironmentSpelling() {
        func layout(_ option: EngineOptions.ActivationLayout) -> MemoryLayout4D {
            CPUBackend(options: EngineOptions(activationLayout: option)).blockedLayout
        }
        XCTAssertEqual(layout(.nChw8c), .nChw8c)
        XCTAssertEqual(layout(.nChw16c), .nChw16c)
        XCTAssertEqual(layout(.nhwc), .nhwc)
        for (value, expected) in [("blocked", EngineOptions.ActivationLayout.blocked), ("NCHW8C", .nChw8c), ("nchw16c", .nChw16c), ("nhwc", .nhwc)] {
            XCTAssertEqual(EngineOptions(environment: ["SWIFTRESNET_LAYOUT": value], warn: { XCTFail($0) }).activationLayout, expected, value)
        }
        var warnings: [String] = []
        XCTAssertEqual(EngineOptions(environment: ["SWIFTRESNET_LAYOUT": "nchw32c"], warn: { warnings.append($0) }).activationLayout, .blocked)
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings.first?.contains("nchw16c") ?? false, "the warning lists the accepted values: \(warnings)")
    }

    /// The probe's reading of a descriptor: one inner block over the channels, of a size the engine has.
    func testDescriptorsReadAsTheirLayout() {
        let dims = [2, 32, 5, 7]
        XCTAssertEqual(PreferredActivationLayout.layout(of: memoryDesc(dims, dnnl_nChw16c)), .nChw16c)
        XCTAssertEqual(PreferredActivationLayout.layout(of: memoryDesc(dims, dnnl_nChw8c)), .nChw8c)
        XCTAssertEqual(PreferredActivationLayout.layout(of: memoryDesc(dims, dnnl_nChw4c)), .nhwc, "no 4-channel layout in the engine")
        XCTAssertEqual(PreferredActivationLayout.layout(of: memoryDesc(dims, dnnl_nhwc)), .nhwc)
        XCTAssertEqual(PreferredActivationLayout.layout(of: memoryDesc(dims, dnnl_nchw)), .nhwc)
        XCTAssertEqual(PreferredActivationLayout.layout(of: memoryDesc(dims, dnnl_NChw16n16c)), .nhwc, "two inner blocks")
        XCTAssertEqual(PreferredActivationLayout.layout(of: memoryDesc(dims, dnnl_format_tag_any)), .nhwc, "not a blocked format")
        for layout in [MemoryLayout4D.nChw8c, .nChw16c] {
            XCTAssertEqual(MemoryLayout4D(channelBlock: layout.channelBlock!), layout)
            XCTAssertEqual(PreferredActivationLayout.layout(of: activationDesc([2, 5, 7, 32], layout)), layout)
        }
    }

    /// Both blocked layouts hold the same values: a round trip through each gives the NHWC input back,
    /// on channel counts of one and several blocks and odd spatial sizes.
    func testBothBlockedLayoutsRoundTrip() {
        for layout in [MemoryLayout4D.nChw8c, .nChw16c] {
            for shape in [[1, 3, 5, 16], [2, 7, 1, 48], [3, 1, 1, 32]] {
                let x = Tensor.randomNormal(shape, seed: 7)
                let expected = x.toArray()
                convertLayout(x, to: layout)
                XCTAssertEqual(x.storage.layout, layout)
                XCTAssertEqual(x.toArray(), expected, "\(layout) \(shape)")
            }
        }
    }
}
