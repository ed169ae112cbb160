/// How a residual unit's chain of conv-BN units runs, decided here and only here: layers describe
/// what they compute (`ConvBNChainShape`), this picks how, from the grad mode and the context's
/// options. The choices are the ones ResNet training and serving frameworks make by hand:
/// - `.folded`: inference folds each batch norm into its convolution (fixed statistics make BN an
///   affine map), one oneDNN call per unit with the residual add and ReLU as post-ops;
/// - `.fused`: training joins each BN-ReLU to the convolution after it (`fusedConv2d`), so the
///   BN-ReLU output is recomputed in backward instead of kept (Pleiss et al. 2017), and the last
///   convolution's output too where its fan-in is at most `EngineOptions.recomputeFanIn`;
/// - `.layerByLayer`: anything else (frozen BN while fine-tuning, evaluation with gradients, a
///   summary that records every layer).
public enum ConvBNExecution: Equatable, Sendable {
    case folded
    case fused([FusedConvBNLink])
    case layerByLayer
}

/// A chain of conv-BN units as the planner sees it: sizes and modes, no tensors.
/// `bn_n(conv_n(... act(bn_1(conv_1(x))) ...))`, then `+ residual` and a ReLU when asked.
public struct ConvBNChainShape: Equatable, Sendable {
    public enum Norm: Equatable, Sendable {
        /// Training mode: normalizes with the batch's statistics and moves the running ones.
        case batchStatistics
        /// Evaluation mode or frozen: a fixed per-channel affine map.
        case runningStatistics
    }

    public struct Unit: Equatable, Sendable {
        /// Inputs per output value of the convolution (input channels per group x kernel area):
        /// recomputing its output costs 2 x fanIn FLOPs per value not kept.
        public var fanIn: Int
        /// The batch norm after the convolution; nil for a convolution alone (v2's biased conv3).
        public var norm: Norm?
        /// ReLU after the unit (for the last unit of a residual chain, before the add: never in ResNets).
        public var relu: Bool

        public init(fanIn: Int, norm: Norm?, relu: Bool) { (self.fanIn, self.norm, self.relu) = (fanIn, norm, relu) }
    }

    public var units: [Unit]
    /// Whether a residual is added after the last unit.
    public var residual: Bool
    /// ReLU after the residual add (He et al. 2015's post-activation unit).
    public var reluAfterResidual: Bool

    public init(units: [Unit], residual: Bool = false, reluAfterResidual: Bool = false) {
        (self.units, self.residual, self.reluAfterResidual) = (units, residual, reluAfterResidual)
    }
}

/// One `fusedConv2d` call of a fused chain, `post(conv(relu(pre(x)))) (+ residual)`, or a plain
/// convolution when it has neither batch norm.
public struct FusedConvBNLink: Equatable, Sendable {
    /// The unit whose convolution this link runs.
    public var unit: Int
    /// The unit whose BN-ReLU runs first, its output recomputed in backward.
    public var pre: Int?
    /// Whether the unit's own batch norm runs inside the link, the convolution's output recomputed in backward.
    public var post: Bool
    /// Whether the residual is added inside the convolution (a last unit without batch norm).
    public var residualInConvolution: Bool

    public init(unit: Int, pre: Int?, post: Bool, residualInConvolution: Bool) {
        (self.unit, self.pre, self.post, self.residualInConvolution) = (unit, pre, post, residualInConvolution)
    }
}

extension EngineContext {
    /// How `chain` runs now: in the calling task's grad mode, under this context's options.
    /// `layerByLayer` asks for every layer on its own (a trace that records each one).
    public func plan(_ chain: ConvBNChainShape, layerByLayer: Bool = false) -> ConvBNExecution {
        precondition(!chain.units.isEmpty, "a conv-BN chain has at least one unit")
        precondition(!(chain.residual && chain.units.last!.relu), "a ReLU before the residual add is not a residual unit")
        guard !layerByLayer else { return .layerByLayer }
        let norms = chain.units.compactMap(\.norm)
        if !GradMode.isEnabled {
            return norms.allSatisfy { $0 == .runningStatistics } ? .folded : .layerByLayer
        }
        let last = chain.units.count - 1
        // fusedConv2d joins a BN-ReLU to the next convolution, and takes no ReLU without a batch norm.
        let joinable = chain.units.dropLast().allSatisfy { $0.norm != nil && $0.relu }
        let lastRuns = chain.units[last].norm != nil || !(chain.units[last].relu || chain.reluAfterResidual)
        guard norms.allSatisfy({ $0 == .batchStatistics }), joinable, lastRuns else { return .layerByLayer }
        return .fused(chain.units.indices.map { i in
            let unit = chain.units[i]
            return FusedConvBNLink(unit: i, pre: i > 0 ? i - 1 : nil,
                                   post: i == last && unit.norm != nil && recomputesOutput(fanIn: unit.fanIn),
                                   residualInConvolution: i == last && unit.norm == nil && chain.residual)
        })
    }

    /// Whether training recomputes a convolution's output in backward instead of keeping it for
    /// the batch norm after it. Keeping costs 4 bytes per output value, recomputing 2 x fan-in
    /// FLOPs, so small fan-ins save most memory per FLOP: in ResNet-50 the 1x1 expansions of
    /// stages 1-2 and stage 1's projection (fan-in 64, 128: 0.6 GB at batch 32) for about 3% more FLOPs.
    public func recomputesOutput(fanIn: Int) -> Bool { fanIn <= options.recomputeFanIn }
}
