import Foundation
import SwiftProtobuf
import XCTest
@testable import ResNetDeploy
@testable import ResNetTraining

/// ONNX files written by the exporter, parsed back with swift-protobuf and checked node by node:
/// op types and inputs, initializers (name, shape, data size, values), the graph's input and
/// output with the symbolic batch dimension, the opset and the metadata. That ONNX Runtime computes
/// SwiftResNet's logits from them is bench/onnx_check.py's job (a CI step).
final class ONNXExportTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-tests-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// A freshly initialised registry model at a small input size, its batch norms given random
    /// statistics so that folding them changes the weights.
    func predictor(_ name: String, side: Int = 64, classes: Int? = nil) throws -> Predictor {
        var classesFile: String?
        if let classes {
            let url = directory.appendingPathComponent("classes.txt")
            try (0..<classes).map { "class \($0)" }.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
            classesFile = url.path
        }
        let p = try Predictor(.published(PublishedWeights(model: name, weights: nil, initSeed: 5, classesFile: classesFile,
                                                          resizeShorter: side, imageSize: side)))
        var seed: UInt64 = 0x2545_F491_4F6C_DD1D
        func next() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(seed >> 40) / Float(1 << 24)
        }
        for (key, t) in p.model.stateDict() {
            if key.hasSuffix("running_var") { t.withMutableHostValues { for i in $0.indices { $0[i] = 0.5 + 1.5 * next() } } }
            if key.hasSuffix("running_mean") { t.withMutableHostValues { for i in $0.indices { $0[i] = next() - 0.5 } } }
            if key.contains("bn") || key.contains("preact") || key.contains("postnorm") || key.hasSuffix("downsample.1.weight") {
                if key.hasSuffix(".weight") { t.withMutableHostValues { for i in $0.indices { $0[i] = 0.5 + next() } } }
            }
        }
        return p
    }

    /// Writes and parses back.
    func exported(_ p: Predictor, fold: Bool) throws -> Onnx_ModelProto {
        let url = directory.appendingPathComponent("model.onnx")
        try ONNXExporter.write(p, foldBatchNorm: fold, to: url)
        return try Onnx_ModelProto(serializedBytes: try Data(contentsOf: url))
    }

    func attribute(_ node: Onnx_NodeProto, _ name: String) -> Onnx_AttributeProto? { node.attribute.first { $0.name == name } }

    /// Checks what every valid graph has: each node input defined before use (graph input,
    /// initializer or an earlier node's output), unique node and value names, each initializer's
    /// data the size its shape and type say, the input and output with the symbolic batch.
    func assertWellFormed(_ m: Onnx_ModelProto, channels: Int = 3, side: Int, classes: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(m.irVersion, 8, file: file, line: line)
        XCTAssertEqual(m.opsetImport.map(\.domain), [""], file: file, line: line)
        XCTAssertEqual(m.opsetImport.map(\.version), [17], file: file, line: line)
        let g = m.graph
        var defined = Set(["input"])
        for t in g.initializer {
            XCTAssertTrue(defined.insert(t.name).inserted, "initializer \(t.name) defined twice", file: file, line: line)
            let count = t.dims.reduce(1, *)
            let size = t.dataType == Int32(Onnx_TensorProto.DataType.int64.rawValue) ? 8 : 4
            XCTAssertTrue([Int32(Onnx_TensorProto.DataType.float.rawValue), Int32(Onnx_TensorProto.DataType.int64.rawValue)].contains(t.dataType), t.name, file: file, line: line)
            XCTAssertEqual(Int64(t.rawData.count), count * Int64(size), "initializer \(t.name) \(t.dims)", file: file, line: line)
        }
        var nodeNames = Set<String>()
        for n in g.node {
            XCTAssertTrue(nodeNames.insert(n.name).inserted, "node \(n.name) twice", file: file, line: line)
            for i in n.input { XCTAssertTrue(defined.contains(i), "node \(n.name) (\(n.opType)) reads \(i) before it is defined", file: file, line: line) }
            for o in n.output { XCTAssertTrue(defined.insert(o).inserted, "value \(o) defined twice", file: file, line: line) }
        }
        XCTAssertTrue(defined.contains("logits"), "no node produces the output", file: file, line: line)
        func dims(_ v: Onnx_ValueInfoProto) -> [String] {
            v.type.tensorType.shape.dim.map { $0.dimParam.isEmpty ? String($0.dimValue) : $0.dimParam }
        }
        XCTAssertEqual(g.input.map(\.name), ["input"], file: file, line: line)
        XCTAssertEqual(g.input.first.map(dims), ["batch", String(channels), String(side), String(side)], file: file, line: line)
        XCTAssertEqual(g.input.first?.type.tensorType.elemType, Int32(Onnx_TensorProto.DataType.float.rawValue), file: file, line: line)
        XCTAssertEqual(g.output.map(\.name), ["logits"], file: file, line: line)
        XCTAssertEqual(g.output.first.map(dims), ["batch", String(classes)], file: file, line: line)
    }

    func opCounts(_ m: Onnx_ModelProto) -> [String: Int] {
        m.graph.node.reduce(into: [:]) { $0[$1.opType, default: 0] += 1 }
    }

    func floats(_ t: Onnx_TensorProto) -> [Float] {
        t.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func test_resnet18_nodes_of_a_downsampling_unit_with_batch_norm_kept() throws {
        let p = try predictor("resnet18")
        let m = try exported(p, fold: false)
        assertWellFormed(m, side: 64, classes: 1000)
        let unit = m.graph.node.filter { $0.name.hasPrefix("layer2.0.") }
        let expected: [(String, String, [String], [String])] = [
            ("Conv", "layer2.0.downsample.0", ["layer1.1.add", "layer2.0.downsample.0.weight"], ["layer2.0.downsample.0"]),
            ("BatchNormalization", "layer2.0.downsample.1", ["layer2.0.downsample.0"] + bn("layer2.0.downsample.1"), ["layer2.0.downsample.1"]),
            ("Conv", "layer2.0.conv1", ["layer1.1.add", "layer2.0.conv1.weight"], ["layer2.0.conv1"]),
            ("BatchNormalization", "layer2.0.bn1", ["layer2.0.conv1"] + bn("layer2.0.bn1"), ["layer2.0.bn1/bn"]),
            ("Relu", "layer2.0.bn1/relu", ["layer2.0.bn1/bn"], ["layer2.0.bn1"]),
            ("Conv", "layer2.0.conv2", ["layer2.0.bn1", "layer2.0.conv2.weight"], ["layer2.0.conv2"]),
            ("BatchNormalization", "layer2.0.bn2", ["layer2.0.conv2"] + bn("layer2.0.bn2"), ["layer2.0.bn2"]),
            ("Add", "layer2.0.add", ["layer2.0.bn2", "layer2.0.downsample.1"], ["layer2.0.add/sum"]),
            ("Relu", "layer2.0.add/relu", ["layer2.0.add/sum"], ["layer2.0.add"]),
        ]
        XCTAssertEqual(unit.count, expected.count, "\(unit.map(\.name))")
        for (node, e) in zip(unit, expected) {
            XCTAssertEqual(node.opType, e.0, e.1)
            XCTAssertEqual(node.name, e.1)
            XCTAssertEqual(node.input, e.2, e.1)
            XCTAssertEqual(node.output, e.3, e.1)
        }
        let conv1 = try XCTUnwrap(unit.first { $0.name == "layer2.0.conv1" })
        XCTAssertEqual(attribute(conv1, "kernel_shape")?.ints, [3, 3])
        XCTAssertEqual(attribute(conv1, "strides")?.ints, [2, 2])
        XCTAssertEqual(attribute(conv1, "pads")?.ints, [1, 1, 1, 1])
        XCTAssertEqual(attribute(conv1, "group")?.i, 1)
        XCTAssertEqual(attribute(unit[0], "kernel_shape")?.ints, [1, 1])
        XCTAssertEqual(attribute(unit[0], "pads")?.ints, [0, 0, 0, 0])
        XCTAssertEqual(attribute(unit[1], "epsilon")?.f, 1e-5)
        // Kept: every initializer is the model's own tensor under its torchvision name, bit for bit.
        let state = p.model.stateDict()
        for t in m.graph.initializer {
            let mine = try XCTUnwrap(state[t.name], "initializer \(t.name) is not a parameter of the model")
            XCTAssertEqual(t.dims, mine.shape.map(Int64.init), t.name)
            XCTAssertEqual(floats(t), mine.toArray(), t.name)
        }
        let stem = m.graph.node.prefix(4).map(\.opType)
        XCTAssertEqual(stem, ["Conv", "BatchNormalization", "Relu", "MaxPool"])
        XCTAssertEqual(attribute(m.graph.node[3], "pads")?.ints, [1, 1, 1, 1])
        XCTAssertEqual(Array(m.graph.node.suffix(3).map(\.opType)), ["GlobalAveragePool", "Flatten", "Gemm"])
        XCTAssertEqual(m.graph.node.last?.input, ["avgpool", "fc.weight", "fc.bias"])
        XCTAssertEqual(attribute(m.graph.node.last!, "transB")?.i, 1)
    }

    func bn(_ name: String) -> [String] { ["weight", "bias", "running_mean", "running_var"].map { "\(name).\($0)" } }

    func test_resnet18_folding_puts_each_batch_norm_into_its_convolution() throws {
        let p = try predictor("resnet18")
        let m = try exported(p, fold: true)
        assertWellFormed(m, side: 64, classes: 1000)
        let unit = m.graph.node.filter { $0.name.hasPrefix("layer2.0.") }
        let expected: [(String, [String], [String])] = [
            ("Conv", ["layer1.1.add", "layer2.0.downsample.0.weight", "layer2.0.downsample.0.bias"], ["layer2.0.downsample.1"]),
            ("Conv", ["layer1.1.add", "layer2.0.conv1.weight", "layer2.0.conv1.bias"], ["layer2.0.bn1/bn"]),
            ("Relu", ["layer2.0.bn1/bn"], ["layer2.0.bn1"]),
            ("Conv", ["layer2.0.bn1", "layer2.0.conv2.weight", "layer2.0.conv2.bias"], ["layer2.0.bn2"]),
            ("Add", ["layer2.0.bn2", "layer2.0.downsample.1"], ["layer2.0.add/sum"]),
            ("Relu", ["layer2.0.add/sum"], ["layer2.0.add"]),
        ]
        XCTAssertEqual(unit.map(\.opType), expected.map(\.0))
        XCTAssertEqual(unit.map(\.input), expected.map(\.1))
        XCTAssertEqual(unit.map(\.output), expected.map(\.2))
        XCTAssertEqual(opCounts(m)["BatchNormalization"], nil, "a v1 network has no batch norm left after folding")
        // w' = w γ/sqrt(var + ε), b' = β − μ γ/sqrt(var + ε), per output channel.
        let state = p.model.stateDict()
        let w = state["layer2.0.conv1.weight"]!.toArray(), gamma = state["layer2.0.bn1.weight"]!.toArray()
        let beta = state["layer2.0.bn1.bias"]!.toArray(), mean = state["layer2.0.bn1.running_mean"]!.toArray()
        let variance = state["layer2.0.bn1.running_var"]!.toArray()
        let inits = Dictionary(uniqueKeysWithValues: m.graph.initializer.map { ($0.name, $0) })
        let folded = floats(try XCTUnwrap(inits["layer2.0.conv1.weight"])), bias = floats(try XCTUnwrap(inits["layer2.0.conv1.bias"]))
        XCTAssertEqual(inits["layer2.0.conv1.weight"]?.dims, [128, 64, 3, 3])
        XCTAssertEqual(inits["layer2.0.conv1.bias"]?.dims, [128])
        var largest = 0.0, farthestScale = 0.0
        for o in 0..<128 {
            let s = Double(gamma[o]) / (Double(variance[o]) + 1e-5).squareRoot()
            farthestScale = max(farthestScale, abs(s - 1))
            XCTAssertEqual(Double(bias[o]), Double(beta[o]) - Double(mean[o]) * s, accuracy: 1e-6)
            for i in 0..<(64 * 9) { largest = max(largest, abs(Double(folded[o * 576 + i]) - Double(w[o * 576 + i]) * s)) }
        }
        XCTAssertLessThan(largest, 1e-6)
        XCTAssertGreaterThan(farthestScale, 0.1, "the test's statistics must make folding visible (some γ/σ far from 1)")
        XCTAssertNil(inits["layer2.0.bn1.running_mean"], "a folded batch norm leaves no initializers")
    }

    func test_pre_activation_v2_keeps_its_preactivation_norms_and_subsamples_with_a_1x1_max_pool() throws {
        let p = try predictor("resnet_v2_50")
        for fold in [true, false] {
            let m = try exported(p, fold: fold)
            assertWellFormed(m, side: 64, classes: 1000)
            let counts = opCounts(m)
            // 16 units: preact each, then bn1, bn2 (folded or not); postnorm at the end.
            XCTAssertEqual(counts["BatchNormalization"], fold ? 16 + 1 : 16 * 3 + 1, "fold \(fold)")
            XCTAssertEqual(counts["Conv"], 1 + 16 * 3 + 4, "stem, three per unit, four projections")
            XCTAssertEqual(counts["MaxPool"], 1 + 3, "stem, and the strided last unit of stages 1-3")
            XCTAssertEqual(counts["Add"], 16)
            XCTAssertEqual(counts["Relu"], 16 * 3 + 1)
            // layer1.2 is stride 2 with an identity-depth shortcut: max-pool 1x1/2 of its input.
            let pool = try XCTUnwrap(m.graph.node.first { $0.name == "layer1.2.shortcut" })
            XCTAssertEqual(pool.opType, "MaxPool")
            XCTAssertEqual(pool.input, ["layer1.1.conv3"])
            XCTAssertEqual(attribute(pool, "kernel_shape")?.ints, [1, 1])
            XCTAssertEqual(attribute(pool, "strides")?.ints, [2, 2])
            // conv3 has a bias and no norm: the residual is added after it.
            let conv3 = try XCTUnwrap(m.graph.node.first { $0.name == "layer1.2.conv3" })
            XCTAssertEqual(conv3.input, ["layer1.2.bn2", "layer1.2.conv3.weight", "layer1.2.conv3.bias"])
            XCTAssertEqual(conv3.output, ["layer1.2.conv3/conv"])
            let add = try XCTUnwrap(m.graph.node.first { $0.name == "layer1.2.conv3/add" })
            XCTAssertEqual(add.input, ["layer1.2.conv3/conv", "layer1.2.shortcut"])
            // conv2d_same at stride 2: pad k-1, half before: 3x3 one and one, the 7x7 stem three and three.
            let conv2 = try XCTUnwrap(m.graph.node.first { $0.name == "layer1.2.conv2" })
            XCTAssertEqual(attribute(conv2, "pads")?.ints, [1, 1, 1, 1])
            XCTAssertEqual(attribute(m.graph.node[0], "pads")?.ints, [3, 3, 3, 3])
            XCTAssertEqual(m.graph.node[0].input, ["input", "conv1.weight", "conv1.bias"])
            // TF 'SAME' max pool 3x3/2 on 32x32: 1 pixel after, none before.
            let stemPool = try XCTUnwrap(m.graph.node.first { $0.name == "maxpool" })
            XCTAssertEqual(attribute(stemPool, "pads")?.ints, [0, 0, 1, 1])
        }
    }

    func test_cifar_option_A_shortcut_is_a_strided_slice_and_a_channel_pad() throws {
        let p = try predictor("resnet20", side: 32, classes: 10)
        let m = try exported(p, fold: true)
        assertWellFormed(m, side: 32, classes: 10)
        let counts = opCounts(m)
        XCTAssertEqual(counts["Slice"], 2)
        XCTAssertEqual(counts["Pad"], 2)
        XCTAssertEqual(counts["Conv"], 19)
        let slice = try XCTUnwrap(m.graph.node.first { $0.name == "layer2.0.shortcut/subsample" })
        XCTAssertEqual(slice.input, ["layer1.2.add", "layer2.0.shortcut.starts", "layer2.0.shortcut.ends", "layer2.0.shortcut.axes", "layer2.0.shortcut.steps"])
        let pad = try XCTUnwrap(m.graph.node.first { $0.name == "layer2.0.shortcut" })
        XCTAssertEqual(pad.input, ["layer2.0.shortcut/subsampled", "layer2.0.shortcut.pads"])
        let inits = Dictionary(uniqueKeysWithValues: m.graph.initializer.map { ($0.name, $0) })
        func int64s(_ name: String) -> [Int64] { inits[name].map { $0.rawData.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) } } ?? [] }
        XCTAssertEqual(int64s("layer2.0.shortcut.steps"), [2, 2])
        XCTAssertEqual(int64s("layer2.0.shortcut.axes"), [2, 3])
        XCTAssertEqual(int64s("layer2.0.shortcut.pads"), [0, 0, 0, 0, 0, 16, 0, 0], "16 zero channels after the 16 of stage 1")
        XCTAssertEqual(int64s("layer3.0.shortcut.pads"), [0, 0, 0, 0, 0, 32, 0, 0])
    }

    func test_metadata_carries_class_names_and_preprocessing() throws {
        let p = try predictor("resnet20", side: 32, classes: 10)
        let m = try exported(p, fold: false)
        let meta = Dictionary(uniqueKeysWithValues: m.metadataProps.map { ($0.key, $0.value) })
        XCTAssertEqual(meta["model"], "resnet20")
        XCTAssertEqual(meta["batch_norm"], "kept")
        XCTAssertEqual(try JSONDecoder().decode([String].self, from: Data(meta["class_names"]!.utf8)), (0..<10).map { "class \($0)" })
        let pre = try JSONDecoder().decode(ONNXMetadata.PreprocessingDescription.self, from: Data(meta["preprocessing"]!.utf8))
        XCTAssertEqual(pre, ONNXMetadata.PreprocessingDescription(layout: "NCHW", height: 32, width: 32, channels: 3, resizeShorter: 32,
                                                                  interpolation: "bilinear", rescale: 1.0 / 255,
                                                                  mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]))
    }

    /// Every registry model exports, folded and kept: the graph is well formed, has one Conv per
    /// convolution weight, one BatchNormalization per batch norm when kept, and one Gemm.
    func test_every_registry_model_exports() throws {
        for config in ResNetRegistry.configs {
            let cifar = config.stem == .cifar
            let p = try predictor(config.name, side: 32, classes: cifar ? 10 : nil)
            let state = p.model.stateDict()
            let convs = state.filter { $0.value.rank == 4 }.count
            let norms = state.keys.filter { $0.hasSuffix("running_mean") }.count
            for fold in [true, false] {
                // Through bytes in memory: the larger models' 0.5 GB would otherwise be fsynced to disk twice.
                let m = try Onnx_ModelProto(serializedBytes: try ONNXExporter.model(p, foldBatchNorm: fold).serializedData() as Data)
                assertWellFormed(m, side: 32, classes: cifar ? 10 : 1000)
                let counts = opCounts(m)
                XCTAssertEqual(counts["Conv"], convs, "\(config.name)")
                XCTAssertEqual(counts["Gemm"], 1, "\(config.name)")
                if !fold { XCTAssertEqual(counts["BatchNormalization"], norms, "\(config.name)") }
                if fold && config.version == .v1 { XCTAssertNil(counts["BatchNormalization"], "\(config.name)") }
                if config.groups > 1 {
                    let conv2 = try XCTUnwrap(m.graph.node.first { $0.name == "layer1.0.conv2" })
                    XCTAssertEqual(attribute(conv2, "group")?.i, Int64(config.groups), "\(config.name)")
                }
            }
        }
    }

    func test_safetensors_export_is_the_torchvision_state_dict() throws {
        let p = try predictor("resnet18")
        let url = directory.appendingPathComponent("weights.safetensors")
        try SafeTensorsExporter.write(p, to: url)
        let file = try SafeTensors.read(url)
        let state = p.model.stateDict()
        XCTAssertEqual(Set(file.names), Set(state.keys))
        XCTAssertEqual(file.entries["layer1.0.bn1.num_batches_tracked"]?.dtype, .i64)
        XCTAssertEqual(file.entries["conv1.weight"]?.dtype, .f32)
        for (key, t) in state { XCTAssertEqual(try file.tensor(key).toArray(), t.toArray(), key) }
        // And it loads back as published weights.
        let again = try Predictor(.published(PublishedWeights(model: "resnet18", weights: url.path, resizeShorter: 64, imageSize: 64)))
        XCTAssertEqual(again.model.stateDict()["layer4.1.bn2.running_var"]!.toArray(), state["layer4.1.bn2.running_var"]!.toArray())
    }
}
