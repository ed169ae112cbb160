import Foundation
@testable import ResNetTraining
import XCTest

/// `predict`/`evaluate --model NAME --weights FILE`: a torchvision-keyed file made here predicts
/// exactly as the same weights in a run directory, with torchvision's preprocessing and the
/// built-in ImageNet names; files that do not fit the model are refused naming file and key.
final class PublishedWeightsTests: TrainerTestCase {
    /// A random RGB PNG of `width` x `height` (not square: the shorter-side resize matters).
    func image(_ name: String, width: Int = 300, height: Int = 260, seed: UInt64 = 1) throws -> String {
        var state = seed
        let pixels = (0..<(width * height * 3)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let p = path(name)
        try PNGCodec.write(PixelImage(width: width, height: height, channels: 3, pixels: pixels), to: p)
        return p
    }

    /// resnet18's freshly initialised weights with random batch-norm statistics, as a torchvision-keyed file.
    func weightsFile(_ model: String = "resnet18", classes: Int? = nil) throws -> (path: String, state: [String: Tensor]) {
        let net = try ResNetRegistry.make(model) { c in
            c.seed = 11
            if let classes { c.numClasses = classes }
        }
        var s: UInt64 = 3
        for (key, t) in net.stateDict() where key.hasSuffix("running_var") || key.hasSuffix("running_mean") {
            t.withMutableHostValues { v in
                for i in v.indices {
                    s = s &* 6364136223846793005 &+ 1442695040888963407
                    v[i] = (key.hasSuffix("var") ? 0.5 : -0.5) + Float(s >> 40) / Float(1 << 24)
                }
            }
        }
        let file = path("\(model).safetensors")
        try SafeTensors.write(net.stateDict(), metadata: ["format": "pt"], to: URL(fileURLWithPath: file))
        return (file, net.stateDict())
    }

    func published(_ weights: String?, model: String = "resnet18", classes: String? = nil, resize: Int = 256, size: Int? = nil) throws -> Predictor {
        try Predictor(.published(PublishedWeights(model: model, weights: weights, classesFile: classes, resizeShorter: resize, imageSize: size)))
    }

    func testPublishedWeightsPredictExactlyAsTheSameWeightsInARunDirectory() throws {
        let (file, state) = try weightsFile()
        // A checkpoint.json written around the same weights, as the user did by hand.
        var settings = TrainingSettings()
        settings.model = "resnet18"
        var config = try ResNetRegistry.config("resnet18")
        config.numClasses = 1000
        let info = CheckpointInfo(settings: settings, modelConfig: config, classNames: ImageNetClasses.names,
                                  preprocessing: .imageNet(), epoch: 1, step: 1, learningRate: 0.1, history: [], loaderSeed: 0)
        let run = RunDirectory(path("run"))
        try run.create()
        try run.commit(info, after: 0, model: state, optimizer: [:], best: nil)

        let fromRun = try Predictor(checkpoint: run.url.path)
        let fromFile = try published(file)
        XCTAssertNil(fromFile.checkpoint)
        XCTAssertEqual(fromFile.classNames, ImageNetClasses.names)
        XCTAssertEqual(fromFile.classNames.count, 1000)
        XCTAssertEqual(fromFile.classNames[0], "tench")
        XCTAssertEqual(fromFile.classNames[999], "toilet tissue")
        XCTAssertEqual(fromFile.preprocessing, fromRun.preprocessing)
        XCTAssertEqual(fromFile.preprocessing.resizeShorter, 256)
        let images = [try image("a.png"), try image("b.png", width: 200, height: 410, seed: 2)]
        let a = try images.map { try fromFile.input(file: $0) }, b = try images.map { try fromRun.input(file: $0) }
        XCTAssertEqual(a, b)
        let logitsFile = fromFile.logits(a), logitsRun = fromRun.logits(b)
        XCTAssertEqual(logitsFile, logitsRun, "the same weights and pixels give the same logits, bit for bit")
        XCTAssertGreaterThan(Set(logitsFile[0]).count, 900, "real logits, not a constant")
        XCTAssertNotEqual(logitsFile[0], logitsFile[1])
        XCTAssertEqual(try fromFile.topK(file: images[0], k: 5).map(\.name), try fromRun.topK(file: images[0], k: 5).map(\.name))
        // The batch API answers as one image at a time does.
        let one = fromFile.logits([a[1]])[0]
        for (x, y) in zip(one, logitsFile[1]) { XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(y))) }
    }

    func testTheResizeShorterPipelineIsTorchvisionsEvaluationTransform() throws {
        let decoded = try ImageDecoder.decode(file: try image("c.png", width: 333, height: 250), channels: 3)
        var r1 = SampleRandom(seed: 0), r2 = SampleRandom(seed: 0)
        let mine = Preprocessing.imageNet(resizeShorter: 232).pipeline().process(decoded, rng: &r1)
        let reference = ImagePipeline.imageNetEvaluation(size: 224, resize: 232).process(decoded, rng: &r2)
        XCTAssertEqual(mine.height, 224)
        XCTAssertEqual(mine.width, 224)
        XCTAssertEqual(mine.pixels, reference.pixels)
    }

    func testAFileOfAnotherArchitectureIsRefusedNamingFileAndKey() throws {
        let (file, _) = try weightsFile("resnet18")
        XCTAssertThrowsError(try published(file, model: "resnet50")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(file), message)
            XCTAssertTrue(message.contains("key '"), message)
            XCTAssertTrue(message.contains("resnet50"), message)
        }
        // No classifier at all.
        let headless = path("headless.safetensors")
        try SafeTensors.write(["conv1.weight": Tensor(zeros: [64, 3, 7, 7])], to: URL(fileURLWithPath: headless))
        XCTAssertThrowsError(try published(headless)) { error in
            XCTAssertTrue("\(error)".contains(headless) && "\(error)".contains("'fc.weight'") && "\(error)".contains("conv1.weight"), "\(error)")
        }
        XCTAssertThrowsError(try published(path("missing.safetensors"))) { XCTAssertTrue("\($0)".contains("missing.safetensors not found"), "\($0)") }
    }

    func testClassNamesMustMatchTheHead() throws {
        let (file, _) = try weightsFile("resnet18", classes: 3)
        XCTAssertThrowsError(try published(file)) { error in
            XCTAssertTrue("\(error)".contains("3 outputs") && "\(error)".contains("--classes"), "\(error)")
        }
        let two = path("two.txt")
        try "cat\ndog\n".write(toFile: two, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try published(file, classes: two)) { error in
            XCTAssertTrue("\(error)".contains(two) && "\(error)".contains("2 names") && "\(error)".contains("3 outputs"), "\(error)")
        }
        let three = path("three.txt")
        try "cat\r\ndog\r\n  bird \n\n\n".write(toFile: three, atomically: true, encoding: .utf8)
        let p = try published(file, classes: three)
        XCTAssertEqual(p.classNames, ["cat", "dog", "bird"])
        XCTAssertEqual(p.topK(Predictor.softmax([0.1, 2, -1]), k: 2).map(\.name), ["dog", "cat"])
    }

    func testClassFilesWithHolesOrRepeatsAreRefusedByLine() throws {
        for (text, expected) in [("a\n\nb\n", "line 2 is blank"), ("a\nb\na\n", "line 3 repeats 'a' of line 1"), ("\n\n", "no class names")] {
            let file = path("classes-\(expected.count).txt")
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try ClassNamesFile.read(file)) { XCTAssertTrue("\($0)".contains(expected) && "\($0)".contains(file), "\($0)") }
        }
    }

    func testOptionsAreCheckedBeforeAnyFileIsRead() throws {
        let missing = path("never-read.safetensors")
        XCTAssertThrowsError(try published(missing, resize: 100)) { XCTAssertTrue("\($0)".contains("--resize-shorter must be between 224"), "\($0)") }
        XCTAssertThrowsError(try published(missing, resize: 100_000)) { XCTAssertTrue("\($0)".contains("--resize-shorter"), "\($0)") }
        XCTAssertThrowsError(try published(missing, size: 0)) { XCTAssertTrue("\($0)".contains("--image-size"), "\($0)") }
        XCTAssertThrowsError(try published(missing, model: "resnet9000")) { XCTAssertTrue("\($0)".contains("--model") && "\($0)".contains("resnet50"), "\($0)") }
    }

    func testARunsOwnFileIsSentToCheckpoint() throws {
        let (_, dir, run) = try committedRun()
        XCTAssertThrowsError(try published(run.weights.path, model: "resnet20")) { XCTAssertTrue("\($0)".contains("--checkpoint"), "\($0)") }
        XCTAssertThrowsError(try published(dir, model: "resnet20")) { XCTAssertTrue("\($0)".contains("--checkpoint"), "\($0)") }
    }

    func testAFreshlyInitialisedModelNeedsNoFile() throws {
        let a = try published(nil, model: "resnet18", resize: 64, size: 64), b = try published(nil, model: "resnet18", resize: 64, size: 64)
        XCTAssertNil(a.weightsFile)
        XCTAssertEqual(a.model.stateDict()["conv1.weight"]!.toArray(), b.model.stateDict()["conv1.weight"]!.toArray(), "seeded")
        XCTAssertEqual(a.preprocessing.height, 64)
    }
}
