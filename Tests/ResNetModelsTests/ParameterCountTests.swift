import XCTest
import ResNetModels

/// The parameter counts of `../shared/reference/README.md`: torchvision's trainable counts for v1,
/// Keras's totals (with BN moving statistics) for v2.
final class ParameterCountTests: XCTestCase {
    func testV1TrainableCountsMatchTorchvision() throws {
        let expected = ["resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
                        "resnet101": 44_549_160, "resnet152": 60_192_808]
        for (name, count) in expected {
            let net = try ResNetRegistry.make(name)
            XCTAssertEqual(net.namedParameters.reduce(0) { $0 + $1.tensor.count }, count, name)
        }
    }

    func testV2CountsMatchKeras() throws {
        let expected = ["resnet_v2_50": (25_568_360, 25_613_800), "resnet_v2_101": (44_577_896, 44_675_560),
                        "resnet_v2_152": (60_236_904, 60_380_648), "resnet_v2_200": (64_726_120, 64_894_440)]
        for (name, (trainable, total)) in expected {
            let net = try ResNetRegistry.make(name)
            let params = net.namedParameters.reduce(0) { $0 + $1.tensor.count }
            let moving = net.namedBuffers.filter { !$0.name.hasSuffix("num_batches_tracked") }.reduce(0) { $0 + $1.tensor.count }
            XCTAssertEqual(params, trainable, name)
            XCTAssertEqual(params + moving, total, name)
        }
    }

    func testResNet20ShortcutsAAndBMatchThePaper() throws {
        let a = try ResNetRegistry.make("resnet20") { $0.numClasses = 10; $0.inputChannels = 3 }
        let b = try ResNetRegistry.make("resnet20") { $0.shortcut = .b }
        let c = try ResNetRegistry.make("resnet20") { $0.shortcut = .c }
        func count(_ n: ResNet) -> Int { n.namedParameters.reduce(0) { $0 + $1.tensor.count } }
        XCTAssertEqual(count(a), 269_722)
        XCTAssertEqual(count(b), 272_474)
        // B adds a 1x1 projection + BN at the two shape changes: 16*32 + 2*32 and 32*64 + 2*64.
        XCTAssertEqual(count(b) - count(a), (16 * 32 + 64) + (32 * 64 + 128))
        // C projects on every one of the 9 units: the 2 reshaping ones as B, plus 7 identity-shaped ones.
        let identityProjections = 2 * (16 * 16 + 32) + 2 * (32 * 32 + 64) + 2 * (64 * 64 + 128) + (16 * 16 + 32)
        XCTAssertEqual(count(c) - count(b), identityProjections)
        XCTAssertNil(a.namedParameters.first { $0.name.contains("downsample") })
    }

    func testResNet50StateSchemaIsTorchvisions() throws {
        let net = try ResNetRegistry.make("resnet50")
        let names = net.stateNames
        XCTAssertEqual(names.count, 320)
        XCTAssertEqual(Array(names.prefix(7)), ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                                                "bn1.num_batches_tracked", "layer1.0.conv1.weight"])
        let state = net.stateDict()
        XCTAssertEqual(state["conv1.weight"]?.shape, [64, 3, 7, 7])
        XCTAssertEqual(state["layer1.0.downsample.0.weight"]?.shape, [256, 64, 1, 1])
        XCTAssertEqual(state["layer4.2.bn3.running_var"]?.shape, [2048])
        XCTAssertEqual(state["fc.weight"]?.shape, [1000, 2048])
        XCTAssertEqual(state["fc.bias"]?.shape, [1000])
        XCTAssertNil(state["layer1.1.downsample.0.weight"])
    }

    func testGroupedThousands() {
        XCTAssertEqual(grouped(25_557_032), "25,557,032")
        XCTAssertEqual(grouped(999), "999")
        XCTAssertEqual(grouped(1000), "1,000")
        XCTAssertEqual(grouped(0), "0")
    }

    func testUnknownModelNamesTheKnownOnes() {
        XCTAssertThrowsError(try ResNetRegistry.config("resnet51")) { error in
            XCTAssertTrue("\(error)".contains("unknown model 'resnet51'"))
            XCTAssertTrue("\(error)".contains("resnet_v2_152"))
        }
    }
}
