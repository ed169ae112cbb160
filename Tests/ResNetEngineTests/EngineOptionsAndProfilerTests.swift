import XCTest
@testable import ResNetEngine

/// The typed engine options with their `SWIFTRESNET_*` overrides, and the per-context profiler.
final class EngineOptionsAndProfilerTests: XCTestCase {
    func testVariablesOverrideTheDefaults() {
        var warnings: [String] = []
        let options = EngineOptions(environment: ["SWIFTRESNET_LAYOUT": "NHWC", "SWIFTRESNET_RECOMPUTE_FANIN": "0",
                                                  "SWIFTRESNET_WINOGRAD": "0", "SWIFTRESNET_POOL_MB": "3"]) { warnings.append($0) }
        XCTAssertEqual(options, EngineOptions(activationLayout: .nhwc, recomputeFanIn: 0, winograd: false, poolLimitBytes: 3 << 20))
        XCTAssertEqual(warnings, [])
        XCTAssertEqual(EngineOptions(environment: [:]), EngineOptions(), "unset variables leave the defaults")
    }

    func testABadValueIsNamedAndIgnored() {
        var warnings: [String] = []
        let options = EngineOptions(environment: ["SWIFTRESNET_LAYOUT": "nchw", "SWIFTRESNET_RECOMPUTE_FANIN": "-1"]) { warnings.append($0) }
        XCTAssertEqual(options, EngineOptions())
        XCTAssertEqual(warnings, ["warning: SWIFTRESNET_LAYOUT=nchw is not nhwc, blocked, nchw8c or nchw16c; using blocked",
                                  "warning: SWIFTRESNET_RECOMPUTE_FANIN=-1 is not a count; using 128"])
    }

    func testNestedRegionsCountOnlyInTheOuterOne() {
        let profiler = Profiler()
        profiler.start()
        let outer = profiler.begin()
        let inner = profiler.begin()
        profiler.end(.reorder, inner)
        profiler.end(.swiftKernels, pass: .backward, outer)
        profiler.measure(.optimizer, pass: .update) {}
        profiler.stop()
        XCTAssertEqual(Set(profiler.kinds.map { "\($0.kind.rawValue) \($0.pass?.rawValue ?? "") \($0.calls)" }),
                       ["Swift kernels backward 1", "optimizer update 1"])
    }

    func testPrimitivesAreTimedByTypedKey() throws {
        let context = EngineContext()
        let key = try context.run {
            context.profiler.start()
            let x = Tensor.randomNormal([2, 6, 6, 8], seed: 1), w = Tensor.randomNormal([8, 8, 1, 1], seed: 2)
            _ = GradMode.withoutGradient { conv2d(x, w) }
            context.profiler.stop()
            return try XCTUnwrap(context.profiler.primitives.first { $0.primitive?.op == .convolution }?.primitive)
        }
        XCTAssertEqual(key.shapes, [[2, 6, 6, 8], [8, 8, 1, 1]])
        XCTAssertEqual(key.geometry?.kh, 1)
        XCTAssertTrue(key.description.hasPrefix("conv.fwd|[2, 6, 6, 8]|[8, 8, 1, 1]|"), key.description)
        XCTAssertTrue(context.cpu.cache.implementations.contains { $0.key == key }, "the profiled key is the cache's key")
        XCTAssertFalse(EngineContext.default.profiler.primitives.contains { $0.primitive == key }, "the default context's profiler saw nothing")
    }
}
