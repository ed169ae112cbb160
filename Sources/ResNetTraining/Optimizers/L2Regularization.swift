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
            let s = scale
            grad.withMutableHostValues { g in parameter.withHostValues { w in
                let g = g.baseAddress!, w = w.baseAddress!
                parallelChunks(parameter.count) { range in
                    for i in range { g[i] += s * w[i] }
                }
            } }
        }
    }

    /// The regularisation term scale·Σ sum(w²)/2 over the selected parameters, for logging the total loss.
    public func loss(_ parameters: [(name: String, tensor: Tensor)]) -> Float {
        var total = 0.0
        for (_, parameter) in parameters where filter.applies(to: parameter) {
            parameter.withHostValues { for w in $0 { total += Double(w) * Double(w) } }
        }
        return Float(Double(scale) * total / 2)
    }
}
