import ResNetEngine

/// Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay.
///
/// Follows `torch.optim.SGD` (dampening 0): d = g + wd·p; buf = momentum·buf + d (first step buf = d);
/// d = nesterov ? d + momentum·buf : buf; p -= lr·d. Buffers start at zero, which gives the same
/// first step as PyTorch's buf = d since dampening is 0.
public final class SGD: Optimizer {
    public var learningRate: Float
    public var parameterLearningRates: [String: Float] = [:]
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    public let decayFilter: WeightDecayFilter
    public let parameters: [(name: String, tensor: Tensor)]
    /// One momentum buffer per parameter (empty when momentum is 0).
    private let momentumBuffers: [Tensor]
    private let buffers: NamedBuffers

    public init(parameters: [(name: String, tensor: Tensor)], learningRate: Float, momentum: Float = 0,
                nesterov: Bool = false, weightDecay: Float = 0, decayFilter: WeightDecayFilter = .all) {
        precondition(learningRate >= 0 && momentum >= 0 && weightDecay >= 0, "SGD hyperparameters must be non-negative")
        precondition(!nesterov || momentum > 0, "Nesterov momentum requires momentum > 0 (as in torch.optim.SGD)")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.decayFilter = decayFilter
        var named = NamedBuffers()
        momentumBuffers = momentum == 0 ? [] : parameters.map { named.add("\($0.name).momentum_buffer", shape: $0.tensor.shape) }
        buffers = named
    }

    public func step() {
        for (index, (name, parameter)) in parameters.enumerated() {
            guard let grad = gradient(of: parameter, name: name) else { continue }
            let wd = decayFilter.applies(to: parameter) ? weightDecay : 0
            Backend.current.sgdUpdate(parameter, gradient: grad, momentumBuffer: momentum == 0 ? nil : momentumBuffers[index],
                                      attributes: SGDAttributes(learningRate: learningRate(for: name), momentum: momentum,
                                                                nesterov: nesterov, weightDecay: wd))
        }
    }

    public var state: [String: Tensor] { buffers.snapshot() }

    public func loadState(_ state: [String: Tensor]) throws { try buffers.load(state) }
}
