import XCTest
@testable import ResNetEngine
import ResNetLayers
import ResNetModels

/// Activations run in oneDNN's blocked layout between layers when their channels fill whole blocks:
/// the one oneDNN picks for this CPU (nChw8c with AVX2, nChw16c with AVX-512), and the other one when
/// forced. Everything a user sees (outputs, end points, gradients, running statistics) must be what
/// the plain NHWC engine gives.
final class BlockedLayoutTests: XCTestCase {
    private struct Run {
        var output: [Float]
        var endPoints: [[Float]]
        var gradients: [[Float]]
        var evalGradients: [[Float]]
        var buffers: [[Float]]
        var names: [String]
    }

    /// One training step's forward and backward, then an inference pass, in one layout.
    private func run(_ name: String, size: Int, layout: EngineOptions.ActivationLayout, configure: (inout ResNetConfig) -> Void = { _ in }) throws -> Run {
        try context(layout).run { try run(name, size: size, configure: configure) }
    }

    /// The blocked layout this CPU's default context picks.
    private var chosenLayout: MemoryLayout4D { context(.blocked).cpu.blockedLayout }

    /// A context like the default one but with activations in `layout`.
    private func context(_ layout: EngineOptions.ActivationLayout) -> EngineContext {
        var options = EngineOptions.default
        options.activationLayout = layout
        return EngineContext(options: options)
    }

    private func run(_ name: String, size: Int, configure: (inout ResNetConfig) -> Void) throws -> Run {
        let net = try ResNetRegistry.make(name, configure)
        let x = Tensor.randomNormal([2, size, size, net.config.inputChannels], seed: 3)
        net.train()
        let y = net(x)
        let r = Tensor.randomNormal(y.shape, seed: 4)
        sum(multiply(y, r)).backward()
        let gradients = net.namedParameters.map { $0.tensor.grad?.toArray() ?? [] }
        // Eval mode with gradients on: running statistics, BN backward as a fixed affine map (Swift).
        net.eval()
        for p in net.namedParameters { p.tensor.zeroGradient() }
        sum(multiply(net(x), r)).backward()
        let evalGradients = net.namedParameters.map { $0.tensor.grad?.toArray() ?? [] }
        let points = GradMode.withoutGradient { net.endPoints(x) }
        return Run(output: y.toArray(), endPoints: points.map { $0.tensor.toArray() },
                   gradients: gradients, evalGradients: evalGradients,
                   buffers: net.namedBuffers.map { $0.tensor.toArray() }, names: net.namedParameters.map(\.name))
    }

    /// max |a - b| (or max |a| without b), in a plain loop: gradients here have millions of entries.
    private func maxAbsDifference(_ a: [Float], _ b: [Float]?) -> Float {
        var m: Float = 0
        a.withUnsafeBufferPointer { a in
            if let b { b.withUnsafeBufferPointer { b in for i in 0..<min(a.count, b.count) { m = max(m, abs(a[i] - b[i])) } } }
            else { for v in a { m = max(m, abs(v)) } }
        }
        return m
    }

    private func assertClose(_ a: [Float], _ b: [Float], _ what: String, tolerance: Float = 1e-3) {
        XCTAssertEqual(a.count, b.count, what)
        let scale = maxAbsDifference(b, nil)
        let error = maxAbsDifference(a, b)
        XCTAssertLessThanOrEqual(error / max(scale, 1e-6), tolerance, what)
    }

    func testBlockedAndNHWCGiveTheSameNetwork() throws {
        try assertSameNetwork(.blocked, [
            ("resnet20", 16, { _ in }),                       // option-A shortcuts: Swift kernels between blocked convs
            ("resnet50", 64, { $0.numClasses = 5 }),          // ImageNet stem (3 channels stay NHWC), bottlenecks
            ("resnet_v2_50", 64, { $0.numClasses = 5 }),      // pre-activation, max-pool shortcuts
        ])
    }

    /// The blocked layout this CPU does not pick, forced: its kernels are oneDNN's reference ones
    /// here, so the networks are small (a narrow one-unit-per-stage ResNet-50 keeps the ImageNet stem,
    /// max pooling, bottlenecks and projections); odd sizes leave partial windows at every edge.
    func testTheOtherBlockedLayoutGivesTheSameNetwork() throws {
        let other: EngineOptions.ActivationLayout = chosenLayout == .nChw16c ? .nChw8c : .nChw16c
        try assertSameNetwork(other, [
            ("resnet20", 15, { _ in }),                       // 16, 32, 64 channels: whole blocks of 8 and 16
            ("resnet50", 33, { $0.numClasses = 5; $0.stageDepths = [1, 1, 1, 1]; $0.stageWidths = [16, 16, 32, 32] }),
        ])
    }

    private func assertSameNetwork(_ layout: EngineOptions.ActivationLayout, _ cases: [(String, Int, (inout ResNetConfig) -> Void)]) throws {
        for (name, size, configure) in cases {
            let plain = try run(name, size: size, layout: .nhwc, configure: configure)
            let blocked = try run(name, size: size, layout: layout, configure: configure)
            assertClose(blocked.output, plain.output, "\(name) training output")
            for (i, (a, b)) in zip(blocked.endPoints, plain.endPoints).enumerated() { assertClose(a, b, "\(name) end point \(i)") }
            // Training gradients are compared on the network's own scale and loosely: through batch-norm
            // backward over a batch of 2, a deep net amplifies float32 rounding (measured 0.1-3% between
            // the layouts, both equally close to finite differences), and some are exactly zero in exact
            // arithmetic (a conv bias right before a batch norm). A layout mix-up scrambles values: O(1).
            // With running statistics backward is linear, but an untrained 50-layer net's activations grow
            // unit by unit and ReLU masks flip where rounding moves a value across zero: held at 2%.
            for (gradients, reference, tolerance, mode) in [(blocked.gradients, plain.gradients, Float(5e-2), "training"),
                                                             (blocked.evalGradients, plain.evalGradients, Float(2e-2), "eval")] {
                let scale = reference.map { maxAbsDifference($0, nil) }.max() ?? 1
                for (i, (a, b)) in zip(gradients, reference).enumerated() {
                    let error = maxAbsDifference(a, b)
                    XCTAssertLessThanOrEqual(error / scale, tolerance, "\(name) \(mode) gradient \(plain.names[i])")
                }
            }
            for (i, (a, b)) in zip(blocked.buffers, plain.buffers).enumerated() { assertClose(a, b, "\(name) buffer \(i)") }
        }
    }

    /// The layouts really differ: a convolution's output is blocked, and reading it leaves it so.
    /// The layout is a context's option: an NHWC context leaves the default context blocked.
    func testActivationsAreBlockedInsideAndNHWCOutside() throws {
        let blockedLayout = chosenLayout
        try XCTSkipIf(blockedLayout == .nhwc, "oneDNN picks no channel block on this CPU")
        let conv = Conv2D(16, 32, kernel: 3, padding: .symmetric(1), seed: 1)
        let x = Tensor.randomNormal([1, 5, 6, 16], seed: 2)
        let y = context(.blocked).run { GradMode.withoutGradient { conv(x) } }
        XCTAssertEqual(y.storage.layout, blockedLayout)
        let values = y.toArray()
        XCTAssertEqual(y.storage.layout, blockedLayout, "reading leaves the layout as it is")
        let plain = context(.nhwc).run { GradMode.withoutGradient { conv(x) } }
        XCTAssertEqual(plain.storage.layout, .nhwc)
        XCTAssertEqual(values, plain.toArray())
        try XCTSkipIf(EngineOptions.default.activationLayout != .blocked, "SWIFTRESNET_LAYOUT overrides the default context's layout")
        let byDefault = GradMode.withoutGradient { conv(x) }
        XCTAssertEqual(byDefault.storage.layout, blockedLayout, "the default context is untouched by another context's option")
        XCTAssertEqual(byDefault.toArray(), values)
    }
}
