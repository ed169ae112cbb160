import ResNetEngine
import ResNetLayers
import ResNetModels

/// Random BN affine parameters and running statistics, so folding and normalizing do real work
/// (fresh layers hold γ = 1, β = 0, μ = 0, σ² = 1). Seeds follow from `seed`, four per layer.
func randomizeBatchNorms(_ net: ResNet, seed: UInt64 = 7) {
    var s = seed
    for case let bn as BatchNorm2D in net.modules {
        s += 4
        bn.weight?.assign(Tensor.randomUniform([bn.channels], low: 0.5, high: 1.5, seed: s))
        bn.bias.assign(Tensor.randomNormal([bn.channels], std: 0.2, seed: s + 1))
        bn.runningMean.assign(Tensor.randomNormal([bn.channels], std: 0.3, seed: s + 2))
        bn.runningVar.assign(Tensor.randomUniform([bn.channels], low: 0.5, high: 2, seed: s + 3))
    }
}
