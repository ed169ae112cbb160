import ResNetEngine
import ResNetModels

/// `resnet info`'s table: the kernel that runs every distinct convolution of a model in each pass
/// (forward for inference and for training, backward data, backward weights), as oneDNN names its
/// implementation or, for the engine's own Winograd, as the engine does. Found by running the model
/// in a fresh context with the current options (a training step in which the input takes a gradient
/// too, so the stem's backward-data kernel is chosen, then an inference pass) and reading the
/// primitives it made: what really runs, not a prediction.
public struct KernelSurvey: Sendable {
    public enum Pass: String, CaseIterable, Sendable {
        case inference = "forward (inference)"
        case training = "forward (training)"
        case backwardData = "backward data"
        case backwardWeights = "backward weights"

        init?(_ key: PrimitiveKey) {
            switch key.op {
            case .convolution: self = key.propagation == .training ? .training : .inference
            case .convolutionBackwardData: self = .backwardData
            case .convolutionBackwardWeights: self = .backwardWeights
            default: return nil
            }
        }
    }

    /// One convolution shape and its kernels.
    public struct Row: Sendable {
        /// The input, NHWC, and the weights, OIHW.
        public let input: [Int], weights: [Int]
        public let geometry: WindowGeometry
        /// The activation layout the convolution reads and writes ("nChw8c", "nhwc").
        public let layout: String
        /// Each pass's implementations (several where a bias or post-ops make separate primitives).
        public let kernels: [Pass: [String]]
    }

    public let isa: CPUISA
    /// The layout activations take between layers where their channels fill whole blocks.
    public let activationLayout: String
    /// By input size (largest first), then weights.
    public let rows: [Row]

    /// Runs `model` on a batch of `batchSize` random `imageSize`-pixel images and collects its convolutions' kernels.
    public static func run(model: String = "resnet50", batchSize: Int, imageSize: Int = 224) throws -> KernelSurvey {
        let context = EngineContext(options: EngineContext.current.options)
        return try context.run {
            let net = try ResNetRegistry.make(model)
            try net.config.validateInput(height: imageSize, width: imageSize, batchSize: batchSize)
            let x = Tensor.randomNormal([batchSize, imageSize, imageSize, net.config.inputChannels], seed: 1)
            x.requiresGrad = true
            net.train()
            let y = net(x)
            y.backward(seed: Tensor(repeating: 1, shape: y.shape))
            net.eval()
            _ = GradMode.withoutGradient { net(x) }
            return KernelSurvey(isa: OneDNN.isa, activationLayout: OneDNN.activationLayout, implementations: OneDNN.implementations)
        }
    }

    init(isa: CPUISA, activationLayout: String, implementations: [(key: PrimitiveKey, implementation: String)]) {
        struct Shape: Hashable { let input: [Int], weights: [Int], geometry: WindowGeometry }
        var kernels: [Shape: [Pass: [String]]] = [:], layouts: [Shape: String] = [:]
        for (key, implementation) in implementations {
            guard let pass = Pass(key), key.shapes.count == 2, let geometry = key.geometry else { continue }
            let shape = Shape(input: key.shapes[0], weights: key.shapes[1], geometry: geometry)
            if !(kernels[shape]?[pass]?.contains(implementation) ?? false) { kernels[shape, default: [:]][pass, default: []].append(implementation) }
            if pass == .training || layouts[shape] == nil { layouts[shape] = key.layoutName ?? "nhwc" }
        }
        // Largest maps, widest inputs and outputs first; the window and stride break ties.
        func rank(_ s: Shape) -> (Int, Int, Int, Int, Int, Int) {
            (-s.input[1], -s.input[3], -s.weights[0], -s.geometry.kh, s.geometry.strideH, s.geometry.padTop)
        }
        let order = kernels.keys.sorted { rank($0) < rank($1) }
        self.isa = isa
        self.activationLayout = activationLayout
        rows = order.map { Row(input: $0.input, weights: $0.weights, geometry: $0.geometry, layout: layouts[$0] ?? "nhwc", kernels: kernels[$0] ?? [:]) }
    }
}
