/// Inverted dropout's mask (Srivastava et al. 2014, scaled at training time as `torch.nn.Dropout`):
/// drawn element by element, in order, from one SplitMix64 generator, so a seed gives one mask
/// whatever the thread count.
extension CPUBackend {
    public func dropoutMask(shape: [Int], rate: Float, seed: UInt64) -> Tensor {
        let t = profiler.begin(); defer { profiler.end(.swiftKernels, pass: .forward, t) }
        precondition(rate >= 0 && rate < 1, "dropout rate must be in [0, 1), got \(rate)")
        var g = SeededGenerator(seed: seed)
        let mask = Tensor(empty: shape)
        let m = mask.storage.pointer, keep = 1 / (1 - rate)   // a fresh plain buffer
        for i in 0..<mask.count { m[i] = g.nextFloat() < rate ? 0 : keep }
        return mask
    }
}
