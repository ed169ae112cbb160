// swift-tools-version:6.0
// SwiftResNet: ResNets trained, run and benchmarked from Swift, on oneDNN.
import PackageDescription

/// Targets use the Swift 5 language mode: the engine hands raw buffers between
/// threads on purpose, and its synchronisation is by construction (one op at a time).
let swiftSettings: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "SwiftResNet",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "resnet", targets: ["resnet"]),
        .library(name: "ResNetEngine", targets: ["ResNetEngine"]),
        .library(name: "ResNetData", targets: ["ResNetData"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries from Debian, linked as system libraries.
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),

        // The tensor engine: tensors, kernels (oneDNN backend), reverse-mode autodiff.
        .target(name: "ResNetEngine", dependencies: ["CDNNL"], swiftSettings: swiftSettings),
        // The image data pipeline: decoding, folder datasets, augmentation, loader.
        .target(name: "ResNetData", dependencies: ["CTurboJPEG", "CPNG", "CZlib"], swiftSettings: swiftSettings),

        // The command-line tool.
        .executableTarget(
            name: "resnet",
            dependencies: [
                "ResNetEngine", "ResNetData",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),

        .testTarget(name: "ResNetEngineTests", dependencies: ["ResNetEngine"]),
        .testTarget(name: "ResNetDataTests", dependencies: ["ResNetData"]),
    ],
    swiftLanguageModes: [.v5]
)
