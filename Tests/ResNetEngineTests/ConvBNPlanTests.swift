import XCTest
@testable import ResNetEngine

/// The execution policy of conv-BN chains, decided by `EngineContext.plan` alone: the blocks only
/// describe conv, BN, ReLU and the residual add.
final class ConvBNPlanTests: XCTestCase {
    /// A v1 bottleneck whose 1x1 expansion has `fanIn` inputs per output (He et al. 2015, fig. 5).
    private func bottleneck(_ norm: ConvBNChainShape.Norm, expansionFanIn: Int = 64) -> ConvBNChainShape {
        ConvBNChainShape(units: [.init(fanIn: 256, norm: norm, relu: true), .init(fanIn: 576, norm: norm, relu: true),
                                 .init(fanIn: expansionFanIn, norm: norm, relu: false)],
                         residual: true, reluAfterResidual: true)
    }

    func testTrainingJoinsEachBatchNormToTheNextConvolutionAndRecomputesCheapOutputs() {
        let recompute = EngineContext(options: EngineOptions(recomputeFanIn: 128))
        XCTAssertEqual(recompute.plan(bottleneck(.batchStatistics)), .fused([
            FusedConvBNLink(unit: 0, pre: nil, post: false, residualInConvolution: false),
            FusedConvBNLink(unit: 1, pre: 0, post: false, residualInConvolution: false),
            FusedConvBNLink(unit: 2, pre: 1, post: true, residualInConvolution: false),
        ]))
        guard case .fused(let links) = recompute.plan(bottleneck(.batchStatistics, expansionFanIn: 129)) else { return XCTFail("not fused") }
        XCTAssertFalse(links[2].post, "fan-in 129 keeps the output")
        guard case .fused(let kept) = EngineContext(options: EngineOptions(recomputeFanIn: 0)).plan(bottleneck(.batchStatistics)) else {
            return XCTFail("not fused")
        }
        XCTAssertEqual(kept.map(\.post), [false, false, false])
    }

    func testV2ConvolutionWithoutBatchNormTakesTheResidual() {
        let shape = ConvBNChainShape(units: [.init(fanIn: 256, norm: .batchStatistics, relu: true), .init(fanIn: 576, norm: .batchStatistics, relu: true),
                                             .init(fanIn: 64, norm: nil, relu: false)], residual: true)
        guard case .fused(let links) = EngineContext().plan(shape) else { return XCTFail("not fused") }
        XCTAssertEqual(links.last, FusedConvBNLink(unit: 2, pre: 1, post: false, residualInConvolution: true))
    }

    func testInferenceFoldsAndEverythingElseRunsLayerByLayer() {
        let context = EngineContext()
        XCTAssertEqual(GradMode.withoutGradient { context.plan(bottleneck(.runningStatistics)) }, .folded)
        XCTAssertEqual(GradMode.withoutGradient { context.plan(bottleneck(.runningStatistics), layerByLayer: true) }, .layerByLayer)
        XCTAssertEqual(context.plan(bottleneck(.runningStatistics)), .layerByLayer, "evaluation with gradients")
        XCTAssertEqual(GradMode.withoutGradient { context.plan(bottleneck(.batchStatistics)) }, .layerByLayer, "statistics without gradients")
        var mixed = bottleneck(.batchStatistics)
        mixed.units[1].norm = .runningStatistics   // one frozen batch norm
        XCTAssertEqual(context.plan(mixed), .layerByLayer)
    }
}
