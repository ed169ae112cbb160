import ResNetEngine

/// An optimizer updates named parameters from their accumulated gradients.
///
/// Every optimizer follows PyTorch's `torch.optim` formulas (the reference the tests check against),
/// skips parameters whose `grad` is nil (frozen), and exposes its state by name so checkpoints can save it.
public protocol Optimizer: AnyObject {
    /// The learning rate of the next `step()`; schedules write it before each step.
    var learningRate: Float { get set }
    /// Learning rates that replace `learningRate` for the parameters they name: torch.optim's parameter
    /// groups reduced to what fine-tuning needs (the classifier at `--head-lr`). Empty: one rate for all.
    var parameterLearningRates: [String: Float] { get set }
    /// The parameters updated, with their torchvision names (`layer1.0.conv1.weight`, `fc.bias`).
    var parameters: [(name: String, tensor: Tensor)] { get }
    /// Applies one update from the gradients now accumulated in each parameter's `grad`.
    func step()
    /// Clears every parameter's gradient, ready for the next backward pass.
    func zeroGrad()
    /// Copies of the per-parameter state, keyed `"<parameter>.<buffer>"` (`fc.bias.exp_avg`).
    /// Copies, so a snapshot taken for a checkpoint does not change as training goes on.
    var state: [String: Tensor] { get }
    /// Replaces the state with `state` (copied in); throws, changing nothing, if a key is
    /// missing, unexpected, or of the wrong shape.
    func loadState(_ state: [String: Tensor]) throws
}

extension Optimizer {
    /// The rate of the next step for the parameter called `name`.
    public func learningRate(for name: String) -> Float { parameterLearningRates[name] ?? learningRate }

    public func zeroGrad() {
        for parameter in parameters { parameter.tensor.zeroGradient() }
    }
}

/// Why `loadState` refused a state dictionary; each case names the offending key.
public enum OptimizerStateError: Error, Equatable, CustomStringConvertible {
    case missingKey(String)
    case unexpectedKey(String)
    case shapeMismatch(key: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .missingKey(let key): return "optimizer state is missing key '\(key)'"
        case .unexpectedKey(let key): return "optimizer state has unexpected key '\(key)' (saved by another optimizer or model?)"
        case .shapeMismatch(let key, let expected, let found):
            return "optimizer state key '\(key)' has shape \(found), expected \(expected)"
        }
    }
}

/// Named state buffers shared by the optimizers: saving copies out, loading checks every key
/// before copying anything in, so a bad checkpoint leaves the optimizer untouched.
struct NamedBuffers {
    private(set) var buffers: [(key: String, tensor: Tensor)] = []

    mutating func add(_ key: String, shape: [Int]) -> Tensor {
        let tensor = Tensor(zeros: shape)
        buffers.append((key, tensor))
        return tensor
    }

    func snapshot() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: buffers.map { ($0.key, $0.tensor.copy()) })
    }

    func load(_ state: [String: Tensor]) throws {
        for (key, tensor) in buffers {
            guard let saved = state[key] else { throw OptimizerStateError.missingKey(key) }
            guard saved.shape == tensor.shape else {
                throw OptimizerStateError.shapeMismatch(key: key, expected: tensor.shape, found: saved.shape)
            }
        }
        let known = Set(buffers.map(\.key))
        if let extra = state.keys.sorted().first(where: { !known.contains($0) }) {
            throw OptimizerStateError.unexpectedKey(extra)
        }
        for (key, tensor) in buffers { tensor.assign(state[key]!) }
    }
}

/// The gradient of a parameter that should be updated this step, or nil for a frozen one.
func gradient(of parameter: Tensor, name: String) -> Tensor? {
    guard let grad = parameter.grad else { return nil }
    precondition(grad.count == parameter.count, "gradient \(grad.shape) for parameter '\(name)' of shape \(parameter.shape)")
    return grad
}
