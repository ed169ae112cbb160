import ResNetEngine

/// The convolution and batch-norm calls in a flag form that the kernel tests read more easily
/// against their float64 references: each builds the attributes and forwards. Not product API.
extension ComputeBackend {
    func convolution(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: WindowGeometry,
                            residual: Tensor?, relu: Bool, training: Bool) -> Tensor {
        let postOps: [PostOp] = (residual.map { [.add($0)] } ?? []) + (relu ? [.relu] : [])
        return convolution(x, weight: weight, bias: bias,
                           attributes: ConvolutionAttributes(geometry: geometry, postOps: postOps, propagation: training ? .training : .inference))
    }

    func batchNormTraining(_ x: Tensor, scale: Tensor?, shift: Tensor, epsilon: Float, relu: Bool)
        -> (y: Tensor, mean: Tensor, variance: Tensor, workspace: Storage?) {
        batchNormTraining(x, scale: scale, shift: shift, attributes: BatchNormAttributes(epsilon: epsilon, fusedReLU: relu))
    }

    func batchNormInference(_ x: Tensor, scale: Tensor?, shift: Tensor, mean: Tensor, variance: Tensor,
                                   epsilon: Float, relu: Bool) -> Tensor {
        batchNormInference(x, scale: scale, shift: shift, mean: mean, variance: variance,
                           attributes: BatchNormAttributes(epsilon: epsilon, fusedReLU: relu))
    }

    func batchNormBackward(_ dy: Tensor, input x: Tensor, scale: Tensor?, mean: Tensor, variance: Tensor,
                                  epsilon: Float, relu: Bool, workspace: Storage?, globalStatistics: Bool)
        -> (dx: Tensor, dscale: Tensor?, dshift: Tensor) {
        batchNormBackward(dy, input: x, scale: scale, mean: mean, variance: variance,
                          attributes: BatchNormAttributes(epsilon: epsilon, fusedReLU: relu), workspace: workspace,
                          statistics: globalStatistics ? .running : .batch)
    }
}
