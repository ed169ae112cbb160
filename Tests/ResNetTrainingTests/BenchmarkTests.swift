import XCTest
import ResNetEngine
import ResNetTraining

/// `resnet benchmark --detail`: the per-op breakdown must count the network's real ops and add up
/// to the measured step time.
final class BenchmarkTests: XCTestCase {
    func testDetailCountsEveryConvolutionAndAddsUpToTheStep() throws {
        let bench = Benchmark(model: "resnet20", mode: .backward, batchSize: 4, imageSize: 32, warmup: 1, steps: 2, detail: true)
        let result = try bench.run()
        let kinds = try XCTUnwrap(result.breakdown)
        func calls(_ kind: Profiler.Kind, _ pass: Profiler.Pass) -> Int { kinds.first { $0.kind == kind && $0.pass == pass }?.calls ?? 0 }
        // resnet20: the 3x3 stem and 18 convolutions in 9 basic blocks (option-A shortcuts have none).
        XCTAssertEqual(calls(.convolution, .forward), 19)
        // Backward reruns the stem (fan-in 27: cheaper to recompute than to keep, EngineOptions.recomputeFanIn)
        // and each unit's first batch norm + ReLU (fusedConv2d).
        XCTAssertEqual(calls(.convolution, .recompute), 1)
        XCTAssertEqual(calls(.batchNorm, .recompute), 9)
        // Backward-weights for all 19, backward-data for all but the stem (the input needs no gradient).
        XCTAssertEqual(calls(.convolution, .backward), 37)
        XCTAssertGreaterThan(calls(.batchNorm, .forward), 0)
        let accounted = kinds.filter { $0.kind != .other }.reduce(0) { $0 + $1.seconds }
        XCTAssertLessThanOrEqual(accounted, result.mean * 1.01, "ops cannot take longer than the step that ran them")
        XCTAssertEqual(accounted + (kinds.first { $0.kind == .other }?.seconds ?? -1), result.mean, accuracy: 1e-9)
        let slowest = try XCTUnwrap(result.slowest)
        XCTAssertFalse(slowest.isEmpty)
        XCTAssertEqual(slowest.map(\.seconds), slowest.map(\.seconds).sorted(by: >))
        XCTAssertTrue(slowest.allSatisfy { $0.primitive != nil })
        XCTAssertGreaterThan(try XCTUnwrap(result.sgemmGFLOPs), 0)
    }

    /// `resnet info`'s survey: every ResNet-50 convolution has a kernel named for each of the four
    /// passes (none of them oneDNN's reference ones, no unnamed `?`), and the 3x3 layer at 56x56
    /// takes the engine's Winograd in inference when it is on.
    func testKernelSurveyNamesAKernelForEveryResNet50ConvolutionAndPass() throws {
        let survey = try KernelSurvey.run(model: "resnet50", batchSize: 1)
        // The stem; per stage the 1x1 reduce(s), the 3x3 (strided in the first unit of stages 2-4),
        // the 1x1 expand and the projection: 23 distinct (input, weights, window) shapes at 224x224.
        XCTAssertEqual(survey.rows.count, 23, survey.rows.map { "\($0.input) \($0.weights)" }.joined(separator: "\n"))
        for row in survey.rows {
            for pass in KernelSurvey.Pass.allCases {
                let kernels = row.kernels[pass] ?? []
                XCTAssertFalse(kernels.isEmpty, "\(row.input) * \(row.weights): no \(pass.rawValue) kernel")
                XCTAssertFalse(kernels.contains { $0.hasPrefix("ref") || $0.contains("?") }, "\(row.input) * \(row.weights) \(pass.rawValue): \(kernels)")
            }
        }
        XCTAssertEqual(survey.activationLayout, OneDNN.activationLayout)
        let row = try XCTUnwrap(survey.rows.first { $0.input == [1, 56, 56, 64] && $0.weights == [64, 64, 3, 3] })
        XCTAssertEqual(row.layout, survey.activationLayout, "64 channels fill whole blocks of 8 and of 16")
        let inference = try XCTUnwrap(row.kernels[.inference])
        XCTAssertEqual(inference.allSatisfy { $0.hasPrefix("swift_winograd_2x3") }, EngineContext.current.options.winograd, "\(inference)")
    }

    func testWithoutDetailNothingIsProfiled() throws {
        let result = try Benchmark(model: "resnet20", mode: .forward, batchSize: 2, imageSize: 32, warmup: 0, steps: 1).run()
        XCTAssertNil(result.breakdown)
        XCTAssertNil(result.sgemmGFLOPs)
        XCTAssertFalse(EngineContext.current.profiler.isEnabled)
    }
}
