import ResNetEngine

/// Which parameters weight decay (or L2 regularisation) applies to, decided by rank so it works for
/// any model: conv weights are rank 4 (OIHW), fc weights rank 2, BN scales/shifts and biases rank 1.
public enum WeightDecayFilter: String, Codable, Sendable, CaseIterable {
    /// Every parameter, as `torch.optim` does by default.
    case all
    /// Conv weights only: TF-slim's `resnet_arg_scope` puts `l2_regularizer(1e-4)` on conv weights only.
    case convWeightsOnly
    /// Weights (rank >= 2) but no biases or BN parameters, the common "no decay on bias/BN" practice.
    case weightsOnly

    public func applies(to parameter: Tensor) -> Bool {
        switch self {
        case .all: return true
        case .convWeightsOnly: return parameter.rank == 4
        case .weightsOnly: return parameter.rank >= 2
        }
    }
}
