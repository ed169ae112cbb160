import ResNetEngine

/// TF-slim's L2 regularisation as the seed uses it: `resnet_arg_scope` puts `slim.l2_regularizer(1e-4)`
/// on conv weights, adding scale·sum(w²)/2 (`tf.nn.l2_loss`) to the loss, whose gradient is scale·w.
///
/// Adding `addGradients` after backward and before a plain optimizer step is the same as
/// `SGD(weightDecay: scale, decayFilter: .convWeightsOnly)`; this form works with any optimizer.
public struct L2Regularization: Codable, Equatable, Sendable {
    public var scale: Float
    public var filter: WeightDecayFilter

    public init(scale: Float = 1e-4, filter: WeightDecayFilter = .convWeightsOnly) {
        self.scale = scale
        self.filter = filter
    }

    /// g += scale·w for every selected parameter that has a gradient (frozen ones are left alone).
    public func addGradients(to parameters: [(name: String, tensor: Tensor)]) {
        for (name, parameter) in parameters where filter.applies(to: parameter) {
            guard let grad = gradient(of: parameter, name: name) else { continue }
            Backend.current.axpbyInPlace(grad, alpha: 1, parameter, beta: scale)
        }
    }

    /// The regularisation term scale·Σ sum(w²)/2 over the selected parameters, for logging the total loss.
    public func loss(_ parameters: [(name: String, tensor: Tensor)]) -> Float {
        let selected = parameters.map(\.tensor).filter { filter.applies(to: $0) }
        let total = Backend.current.sumOfSquares(selected)
        return Float(Double(scale) * total / 2)
    }
}
