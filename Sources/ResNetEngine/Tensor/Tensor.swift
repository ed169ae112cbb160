/// A tensor: a shape over a shared `Storage` of some `DType` (float32 unless made otherwise).
///
/// Values are seen from Swift only through the host accessors (`toArray()`, `withHostValues`,
/// `withMutableHostValues`), which present them in the public layout whatever order the backend
/// keeps them in. Public layout is NHWC for images and activations, as in TensorFlow (the seed's framework) and as
/// oneDNN's AVX-512 kernels prefer: data enters and leaves the engine with no reorder. Convolution
/// weights are OIHW and dense weights [out, in], as torchvision stores them, so its files load as is.
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let storage: Storage
    /// True for parameters whose gradient should be accumulated into `grad`.
    public var requiresGrad: Bool
    /// The accumulated gradient of a leaf tensor (parameters), added to by every `backward()`.
    public var grad: Tensor?
    /// The node that produced this tensor on the tape; nil for leaves and for inference results.
    var gradFn: GradNode?

    public init(shape: [Int], storage: Storage, requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(shape.reduce(1, *) <= storage.count, "shape \(shape) needs more than \(storage.count) elements")
        self.shape = shape
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// An uninitialised tensor (kernels that overwrite every element allocate this way), on
    /// `device`, by default the current context's backend's.
    public convenience init(empty shape: [Int], dtype: DType = .float32, device: Device? = nil) {
        self.init(shape: shape, storage: Storage(count: shape.reduce(1, *), dtype: dtype, device: device))
    }

    public convenience init(zeros shape: [Int], dtype: DType = .float32, requiresGrad: Bool = false) {
        self.init(shape: shape, storage: Storage(count: shape.reduce(1, *), dtype: dtype, zeroed: true), requiresGrad: requiresGrad)
    }

    public convenience init(repeating value: Float, shape: [Int]) {
        self.init(empty: shape)
        initializeHostValues(as: Float.self) { $0.update(repeating: value) }
    }

    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values do not fill shape \(shape)")
        self.init(empty: shape)
        initializeHostValues(from: values)
        self.requiresGrad = requiresGrad
    }

    public convenience init(scalar: Float) { self.init(shape: [], values: [scalar]) }

    /// Normal(0, std) entries from an explicit seed (He initialisation uses std = sqrt(2 / fan_in)).
    public static func randomNormal(_ shape: [Int], std: Float = 1, mean: Float = 0, seed: UInt64) -> Tensor {
        let t = Tensor(empty: shape)
        fillRandom(t, seed: seed) { g, p, n in
            // Box-Muller, both outputs of each pair used.
            var i = 0
            while i < n {
                let u1 = max(g.nextFloat(), 1e-12), u2 = g.nextFloat()
                let r = (-2 * logf(u1)).squareRoot(), a = 2 * Float.pi * u2
                p[i] = mean + std * r * cosf(a)
                if i + 1 < n { p[i + 1] = mean + std * r * sinf(a) }
                i += 2
            }
        }
        return t
    }

    /// Uniform [low, high) entries from an explicit seed.
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1, seed: UInt64) -> Tensor {
        let t = Tensor(empty: shape)
        fillRandom(t, seed: seed) { g, p, n in
            for i in 0..<n { p[i] = low + (high - low) * g.nextFloat() }
        }
        return t
    }

    /// Fills fixed-size blocks, each from its own generator derived from (seed, block): the values
    /// depend only on the seed, never on how many threads filled them.
    private static func fillRandom(_ t: Tensor, seed: UInt64,
                                   _ fill: @escaping (inout SeededGenerator, UnsafeMutablePointer<Float>, Int) -> Void) {
        t.initializeHostValues(as: Float.self) { values in
            let block = 1 << 16, n = t.count, base = values.baseAddress!
            let blocks = (n + block - 1) / block
            let work = { (b: Int) in
                var g = SeededGenerator(seed: seed &+ UInt64(b) &* 0xD1B5_4A32_D192_ED03)
                fill(&g, base + b * block, min(block, n - b * block))
            }
            parallelFor(blocks, work)
        }
    }

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    public var device: Device { storage.device }
    public var dtype: DType { storage.dtype }

    /// The value of a one-element tensor, as a Float whatever the dtype.
    public var scalar: Float {
        precondition(count == 1, "scalar of a tensor of shape \(shape)")
        return withHostValues { $0[0] }
    }

    /// The same values, cut off from the tape: used to save outputs for backward without a cycle.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// A deep copy with its own storage (same dtype, same backend layout: the bytes are copied as is).
    public func copy() -> Tensor {
        let t = Tensor(empty: shape, dtype: dtype, device: device)
        t.storage.raw.copyMemory(from: storage.raw, byteCount: count * device.elementBytes(dtype))
        t.storage.layout = storage.layout
        return t
    }

    /// Overwrites this float32 tensor's values in place (loading weights, the optimizer's update);
    /// `values` of another dtype are converted.
    public func assign(_ values: Tensor) {
        precondition(values.count == count, "assigning \(values.shape) to \(shape)")
        withMutableHostValues { dst in
            values.withHostValues { src in dst.baseAddress!.update(from: src.baseAddress!, count: count) }
        }
    }

    /// True when this tensor's gradient is wanted: a parameter, or the result of an op on one.
    public var needsGradient: Bool { requiresGrad || gradFn != nil }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = withHostValues { Array($0.prefix(8)) }.map { String(format: "%.4g", $0) }.joined(separator: ", ")
        let type = dtype == .float32 ? "" : ", \(dtype)"
        return "Tensor(\(shape)\(type): [\(shown)\(count > 8 ? ", …" : "")])"
    }
}

/// Integer class labels (one per sample), the other tensor type the engine takes.
public struct LabelTensor: Sendable, Equatable {
    public var values: [Int32]
    public init(_ values: [Int32]) { self.values = values }
    public var count: Int { values.count }
}

import Foundation
