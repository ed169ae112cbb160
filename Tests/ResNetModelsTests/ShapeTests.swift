import XCTest
import ResNetEngine
import ResNetModels

/// Output shapes, end points, output stride and the v2 unit layout, from real forward passes.
final class ShapeTests: XCTestCase {
    private func logitsShape(_ net: ResNet, size: Int, channels: Int = 3) -> [Int] {
        net.eval()
        return GradMode.withoutGradient { net(Tensor(zeros: [1, size, size, channels])).shape }
    }

    func testEveryImageNetModelAt224() throws {
        for name in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                     "resnet_v2_50", "resnet_v2_101", "resnet_v2_152", "resnet_v2_200"] {
            let net = try ResNetRegistry.make(name)
            XCTAssertEqual(logitsShape(net, size: 224), [1, 1000], name)
            let summary = net.summary(imageSize: 224)
            let last = summary.layers.last { $0.name.hasPrefix("layer4") }
            XCTAssertEqual(last?.outputShape, [7, 7, net.config.featureChannels], name)
        }
    }

    func testCIFARModelsAt32WithOneAndThreeChannels() throws {
        for name in ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110"] {
            for channels in [1, 3] {
                let net = try ResNetRegistry.make(name) { $0.inputChannels = channels }
                XCTAssertEqual(logitsShape(net, size: 32, channels: channels), [1, 10], "\(name) with \(channels) channel(s)")
                let ends = GradMode.withoutGradient { net.endPoints(Tensor(zeros: [1, 32, 32, channels])) }
                XCTAssertEqual(ends.map(\.name), ["stem", "layer1", "layer2", "layer3", "pool", "logits"])
                XCTAssertEqual(ends[3].tensor.shape, [1, 8, 8, 64])
            }
        }
        // Depth 6n + 2: n units of two convolutions in each of 3 stages, plus stem and classifier.
        let r110 = try ResNetRegistry.make("resnet110")
        XCTAssertEqual(r110.namedParameters.filter { $0.name.hasSuffix("conv1.weight") || $0.name.hasSuffix("conv2.weight") }.count, 109)
    }

    func testEndPointsWithAndWithoutOutputStride() throws {
        func stageShapes(_ name: String, _ stride: Int?) throws -> [[Int]] {
            let net = try ResNetRegistry.make(name) { $0.outputStride = stride; $0.numClasses = nil; $0.globalPool = false }
            net.eval()
            return GradMode.withoutGradient { net.endPoints(Tensor(zeros: [1, 224, 224, 3])).map(\.tensor.shape) }
        }
        XCTAssertEqual(try stageShapes("resnet50", nil), [[1, 56, 56, 64], [1, 56, 56, 256], [1, 28, 28, 512], [1, 14, 14, 1024], [1, 7, 7, 2048]])
        XCTAssertEqual(try stageShapes("resnet50", 16), [[1, 56, 56, 64], [1, 56, 56, 256], [1, 28, 28, 512], [1, 14, 14, 1024], [1, 14, 14, 2048]])
        XCTAssertEqual(try stageShapes("resnet50", 8), [[1, 56, 56, 64], [1, 56, 56, 256], [1, 28, 28, 512], [1, 28, 28, 1024], [1, 28, 28, 2048]])
        let v2 = try stageShapes("resnet_v2_50", 16)
        XCTAssertEqual(v2.map { $0[1] }, [56, 28, 14, 14, 14, 14])  // stem, 4 blocks, postnorm
        // Dilation is what keeps the map dense: layer4's first unit loses its stride and the units
        // after it run atrous at rate 2 (TF-slim's stack_blocks_dense; torchvision's replace_stride_with_dilation).
        let net = try ResNetRegistry.make("resnet50") { $0.outputStride = 16 }
        let dilated = net.modules.compactMap { $0 as? Conv2D }.filter { $0.dilation == 2 }
        XCTAssertEqual(dilated.map(\.path), ["layer4.1.conv2", "layer4.2.conv2"])
        XCTAssertEqual(net.modules.compactMap { $0 as? Conv2D }.filter { $0.stride == 2 }.count, 5, "stem, layer2.0 and layer3.0 (conv2 + downsample)")
    }

    func testV2StrideOnLastUnitAndMaxPoolShortcut() throws {
        let net = try ResNetRegistry.make("resnet_v2_50")
        let summary = net.summary(imageSize: 224)
        func entry(_ n: String) -> [Int]? { summary.layers.first { $0.name == n }?.outputShape }
        // Block 1: units 1 and 2 keep 56x56, the last unit strides to 28x28 (TF-slim's [(256, 64, 1)] * 2 + [(256, 64, 2)]).
        XCTAssertEqual(entry("layer1.0.conv2"), [56, 56, 64])
        XCTAssertEqual(entry("layer1.1.conv2"), [56, 56, 64])
        XCTAssertEqual(entry("layer1.2.conv2"), [28, 28, 64])
        // Depth unchanged on the last unit: the shortcut is a 1x1 max-pool subsample of x, no parameters.
        let shortcut = summary.layers.first { $0.name == "layer1.2.shortcut" }
        XCTAssertEqual(shortcut?.type, "MaxPooling2D(1x1)")
        XCTAssertEqual(shortcut?.outputShape, [28, 28, 256])
        XCTAssertEqual(shortcut?.inputs, ["layer1.1.conv3"])
        // Depth changes on the first unit: a biased 1x1 projection of the pre-activation.
        let names = Set(net.stateNames)
        XCTAssertTrue(names.contains("layer1.0.downsample.0.bias"))
        XCTAssertTrue(names.contains("layer1.0.preact.running_mean"))
        XCTAssertFalse(names.contains("layer1.2.downsample.0.weight"))
        XCTAssertTrue(names.contains("postnorm.weight"))
        XCTAssertFalse(names.contains("bn1.weight"), "the v2 stem has no batch norm")
        // Block 4 keeps its resolution.
        XCTAssertEqual(entry("layer4.2.conv2"), [7, 7, 512])
    }

    func testStrideInFirst1x1VersusIn3x3() throws {
        let paper = try ResNetRegistry.make("resnet50") { $0.strideIn = .conv1x1 }
        let v15 = try ResNetRegistry.make("resnet50")
        let p = paper.summary(imageSize: 224), t = v15.summary(imageSize: 224)
        func shape(_ s: ModelSummary, _ n: String) -> [Int]? { s.layers.first { $0.name == n }?.outputShape }
        XCTAssertEqual(shape(p, "layer2.0.conv1"), [28, 28, 128])
        XCTAssertEqual(shape(t, "layer2.0.conv1"), [56, 56, 128])
        XCTAssertEqual(shape(p, "layer2.0.conv2"), [28, 28, 128])
        XCTAssertEqual(shape(t, "layer2.0.conv2"), [28, 28, 128])
        // v1.5 costs more FLOPs: the first 1x1 of each downsampling unit runs at the input's full resolution.
        XCTAssertGreaterThan(t.flops, p.flops)
    }
}
