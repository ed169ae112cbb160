/// Sums over the processes of a data-parallel run, which synchronized batch norm needs in its
/// forward and backward. The engine knows nothing of MPI; the training side supplies this.
public protocol CrossProcessSum: AnyObject {
    /// Replaces `values` by their element-wise sum over every process (called in the same order on all).
    func sumOverProcesses(_ values: inout [Double])
}

/// Training-mode batch norm whose batch statistics cover the global batch (torch's SyncBatchNorm):
/// forward sums each process's per-channel count, sum and sum of squares; backward sums the
/// per-channel sums of dy and dy * x̂, so every process back-propagates through the global mean and
/// variance. The parameters' gradients stay each process's own (data-parallel averaging follows).
/// Runs on host values in float64 accumulators; without other processes it equals `batchNorm`.
public func syncBatchNorm(_ x: Tensor, scale: Tensor?, shift: Tensor, statistics: BatchNormStatistics,
                          momentum: Float = 0.1, epsilon: Float = 1e-5, relu: Bool = false,
                          across processes: any CrossProcessSum) -> Tensor {
    precondition(x.rank == 4, "syncBatchNorm wants an NHWC input, got shape \(x.shape)")
    let c = x.shape[3], n = x.count / c
    let values = x.toArray()
    var sums = [Double](repeating: 0, count: 2 * c + 1)
    for i in 0..<n {
        for k in 0..<c {
            let v = Double(values[i * c + k])
            sums[k] += v
            sums[c + k] += v * v
        }
    }
    sums[2 * c] = Double(n)
    processes.sumOverProcesses(&sums)
    let total = sums[2 * c]
    let mean = (0..<c).map { sums[$0] / total }
    let variance = (0..<c).map { max(0, sums[c + $0] / total - mean[$0] * mean[$0]) }
    let meanT = Tensor(shape: [c], values: mean.map(Float.init)), varianceT = Tensor(shape: [c], values: variance.map(Float.init))
    updateRunning(statistics, mean: meanT, variance: varianceT, momentum: momentum, count: Int(total))

    let invStd = variance.map { 1 / ($0 + Double(epsilon)).squareRoot() }
    let gamma = scale?.toArray().map(Double.init) ?? Array(repeating: 1, count: c), beta = shift.toArray()
    var xhat = [Float](repeating: 0, count: values.count), out = [Float](repeating: 0, count: values.count)
    for i in 0..<n {
        for k in 0..<c {
            let h = (Double(values[i * c + k]) - mean[k]) * invStd[k]
            xhat[i * c + k] = Float(h)
            out[i * c + k] = Float(gamma[k] * h) + beta[k]
        }
    }
    let y = Tensor(shape: x.shape, values: out)
    let inputs: [(role: BatchNormInput, tensor: Tensor?)] = [(.input, x), (.shift, shift), (.scale, scale)]
    let recorded = record("syncBatchNorm", roles: inputs, y) { dyTensor in
        let dy = dyTensor.toArray()
        var local = [Double](repeating: 0, count: 2 * c)
        for i in 0..<n {
            for k in 0..<c {
                let g = Double(dy[i * c + k])
                local[k] += g
                local[c + k] += g * Double(xhat[i * c + k])
            }
        }
        var global = local
        processes.sumOverProcesses(&global)
        var dx = [Float](repeating: 0, count: dy.count)
        for i in 0..<n {
            for k in 0..<c {
                let centred = Double(dy[i * c + k]) - global[k] / total - Double(xhat[i * c + k]) * global[c + k] / total
                dx[i * c + k] = Float(gamma[k] * invStd[k] * centred)
            }
        }
        return BatchNormInput.gradients(Tensor(shape: x.shape, values: dx), Tensor(shape: [c], values: local[0..<c].map(Float.init)),
                                        scale == nil ? nil : Tensor(shape: [c], values: local[c...].map(Float.init)))
    }
    return relu ? ResNetEngine.relu(recorded) : recorded
}
