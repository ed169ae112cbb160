// swift-tools-version:6.1
// SwiftResNet: ResNets trained, run and benchmarked from Swift, on oneDNN.
import PackageDescription

/// Library code is optimised in debug builds too: weight initialisation and the Swift-side kernels
/// are element loops that run 50x slower unoptimised, which would make the test suite crawl.
/// Release builds use SwiftPM's plain -O, not -Ounchecked: the preconditions that stop bad shapes
/// before a kernel stay in the binary users run. Measured no slower (2026-12-02, 2-core AVX-512 EPYC):
/// resnet50 train batch 8 on one thread 2.79-2.83 s/step checked vs 2.82-2.95 unchecked, the
/// optimizer's Swift loop 0.018-0.020 s vs 0.021-0.025; oneDNN does the rest either way.
let swiftSettings: [SwiftSetting] = [
    .unsafeFlags(["-O"], .when(configuration: .debug)),
]

let package = Package(
    name: "SwiftResNet",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "resnet", targets: ["resnet"]),
        .library(name: "ResNetEngine", targets: ["ResNetEngine"]),
        .library(name: "ResNetData", targets: ["ResNetData"]),
        .library(name: "ResNetModels", targets: ["ResNetModels"]),
        .library(name: "ResNetTraining", targets: ["ResNetTraining"]),
        .library(name: "ResNetDeploy", targets: ["ResNetDeploy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // ONNX export: the message code generated from onnx.proto is committed (Sources/ResNetDeploy/ONNX).
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        // `resnet serve`: Hummingbird is a small SwiftNIO-native HTTP server (no traits: it needs neither
        // swift-configuration nor full Foundation); swift-prometheus writes the /metrics exposition.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Already in Hummingbird's graph; named for the modules the server imports directly.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.14.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
    ],
    targets: [
        // C libraries from Debian, linked as system libraries.
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),

        // The tensor engine: tensors, kernels (oneDNN backend), reverse-mode autodiff.
        .target(name: "ResNetEngine", dependencies: ["CDNNL"], swiftSettings: swiftSettings),
        // Modules with torchvision-named parameters: Conv2D, BatchNorm2D, Linear, initializers.
        .target(name: "ResNetLayers", dependencies: ["ResNetEngine"], swiftSettings: swiftSettings),
        // The ResNet family as data: configurations, blocks, the registry, summaries.
        .target(name: "ResNetModels", dependencies: ["ResNetLayers"], swiftSettings: swiftSettings),
        // Data-parallel training over MPI: the communicator, gradient buckets, the data shard.
        .target(name: "ResNetDistributed", dependencies: ["CMPI", "ResNetEngine"], swiftSettings: swiftSettings),
        // Optimizers, learning-rate schedules (and, later, the training loop).
        .target(name: "ResNetTraining", dependencies: ["ResNetModels", "ResNetData", "ResNetDistributed"], swiftSettings: swiftSettings),
        // The image data pipeline: decoding, folder datasets, augmentation, loader.
        .target(name: "ResNetData", dependencies: ["CTurboJPEG", "CPNG", "CZlib"], swiftSettings: swiftSettings),

        // Using a trained model elsewhere: export to ONNX and to plain torchvision-keyed safetensors.
        .target(
            name: "ResNetDeploy",
            dependencies: ["ResNetTraining", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["ONNX/onnx.proto", "ONNX/README.md"],
            swiftSettings: swiftSettings),

        // `resnet serve`: the HTTP inference server with dynamic batching.
        .target(
            name: "ResNetServe",
            dependencies: [
                "ResNetEngine", "ResNetTraining",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),

        // The command-line tool.
        .executableTarget(
            name: "resnet",
            dependencies: [
                "ResNetEngine", "ResNetData", "ResNetLayers", "ResNetModels", "ResNetTraining", "ResNetDeploy", "ResNetServe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),

        .testTarget(name: "ResNetEngineTests", dependencies: ["ResNetEngine"]),
        .testTarget(name: "ResNetDataTests", dependencies: ["ResNetData"]),
        .testTarget(name: "ResNetModelsTests", dependencies: ["ResNetModels"]),
        .testTarget(name: "ResNetTrainingTests", dependencies: ["ResNetTraining"]),
        .testTarget(name: "ResNetDistributedTests", dependencies: ["ResNetDistributed", "ResNetTraining"]),
        .testTarget(name: "ResNetDeployTests", dependencies: ["ResNetDeploy", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(name: "ResNetServeTests", dependencies: ["ResNetServe", "ResNetTraining", "ResNetData"]),
    ],
    swiftLanguageModes: [.v5]
)
