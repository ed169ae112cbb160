import ResNetEngine

/// A residual branch written as the papers draw it and torchvision's blocks read:
///
///     ConvBNChain(x, in: self)
///         .conv(conv1).bn(bn1).relu()
///         .conv(conv2).bn(bn2)
///         .add(identity).relu()
///         .run()
///
/// Each call only records intent; `run()` asks the engine how to execute the whole chain
/// (`EngineContext.plan`: folded, fused with recompute, or layer by layer) and does that.
public struct ConvBNChain {
    private let input: Tensor
    private var units: [ConvBN]
    private var residual: Tensor?
    private var reluAfterResidual = false
    /// The block the chain belongs to, naming its residual add in summaries (`layer1.0.add`).
    private let owner: Module?

    public init(_ input: Tensor, in owner: Module? = nil) { (self.input, self.units, self.owner) = (input, [], owner) }

    init(_ input: Tensor, units: [ConvBN]) { (self.input, self.units, self.owner) = (input, units, nil) }

    /// Starts a unit with convolution `c`.
    public func conv(_ c: Conv2D) -> ConvBNChain {
        precondition(residual == nil, "nothing but a ReLU follows the residual add")
        var next = self
        next.units.append(ConvBN(c))
        return next
    }

    /// The batch norm of the current unit.
    public func bn(_ b: BatchNorm2D) -> ConvBNChain {
        guard let unit = units.last, unit.bn == nil, unit.activation == .none, residual == nil else {
            preconditionFailure("a batch norm follows a convolution directly")
        }
        var next = self
        next.units[units.count - 1] = ConvBN(unit.conv, b)
        return next
    }

    /// ReLU after the current unit, or after the residual add.
    public func relu() -> ConvBNChain {
        var next = self
        if residual != nil {
            precondition(!reluAfterResidual, "one ReLU after the residual add")
            next.reluAfterResidual = true
        } else {
            guard let unit = units.last, unit.activation == .none else { preconditionFailure("a ReLU follows a convolution or batch norm") }
            next.units[units.count - 1] = ConvBN(unit.conv, unit.bn, .relu)
        }
        return next
    }

    /// Adds the shortcut after the last unit.
    public func add(_ shortcut: Tensor) -> ConvBNChain {
        precondition(!units.isEmpty && residual == nil, "the residual is added once, after a convolution")
        var next = self
        next.residual = shortcut
        return next
    }

    /// Runs the chain the way the engine plans it.
    public func run() -> Tensor {
        let shape = ConvBNChainShape(units: units.map(\.shape), residual: residual != nil, reluAfterResidual: reluAfterResidual)
        // Synchronized batch norms run as their own op (the fused links know only a process's batch).
        let synchronized = units.contains { $0.bn.map { $0.crossProcess != nil && $0.usesBatchStatistics } ?? false }
        switch EngineContext.current.plan(shape, layerByLayer: LayerTrace.isActive || synchronized) {
        case .folded: return folded()
        case .fused(let links): return fused(links)
        case .layerByLayer: return layerByLayer()
        }
    }

    /// ReLU on the last convolution's output: after the residual when there is one.
    private var lastReLU: Bool { residual != nil ? reluAfterResidual : units.last!.activation == .relu }

    /// Each unit one oneDNN call with its batch norm folded in (BatchNormFolding.swift).
    private func folded() -> Tensor {
        var h = input
        for (i, u) in units.enumerated() {
            let last = i == units.count - 1
            let (r, relu) = last ? (residual, lastReLU) : (nil, u.activation == .relu)
            h = u.bn.map { u.conv.folded(h, then: $0, residual: r, relu: relu) } ?? u.conv(h, residual: r, relu: relu)
        }
        return h
    }

    /// The links the planner chose, each a `fusedConv2d` (or a plain convolution).
    private func fused(_ links: [FusedConvBNLink]) -> Tensor {
        var h = input
        for link in links {
            let u = units[link.unit], pre = link.pre.map { units[$0].bn! }, post = link.post ? u.bn! : nil
            let r = link.residualInConvolution ? residual : nil
            if pre == nil && post == nil {
                h = u.conv(h, residual: r)
                continue
            }
            h = fusedConv2d(h, pre: pre?.trainingParameters, conv: u.conv.parameters, post: post?.trainingParameters,
                            postReLU: post != nil && u.activation == .relu, residual: r)
            for bn in [pre, post].compactMap({ $0 }) { bn.countBatch() }
        }
        let last = units.last!
        if let bn = last.bn, links.last?.post != true { h = bn(h, relu: last.activation == .relu) }
        return links.last?.residualInConvolution == true ? h : addResidual(h)
    }

    /// Every layer on its own, as a summary records them.
    private func layerByLayer() -> Tensor {
        var h = input
        for (i, u) in units.enumerated() {
            let last = i == units.count - 1
            guard let bn = u.bn else {
                if last && residual != nil { return u.conv(h, residual: residual, relu: lastReLU) }   // added inside the convolution
                h = u.conv(h, relu: u.activation == .relu)
                continue
            }
            h = bn(u.conv(h), relu: u.activation == .relu)
        }
        return addResidual(h)
    }

    /// `relu(h + residual)` (or without ReLU) in one pass, recorded for summaries as the unit's add.
    private func addResidual(_ h: Tensor) -> Tensor {
        guard let residual else { return h }
        let y = reluAfterResidual ? addReLU(h, residual) : ResNetEngine.add(h, residual)
        LayerTrace.recordOp((owner?.displayName ?? "") + ".add", type: reluAfterResidual ? "Add+ReLU" : "Add", operation: .add(relu: reluAfterResidual),
                            inputs: [h, residual], output: y, flops: 2 * y.count)
        return y
    }
}

extension BatchNorm2D {
    /// This layer as the batch norm of a fused training link.
    var trainingParameters: BatchNormParameters {
        BatchNormParameters(scale: weight, shift: bias, statistics: BatchNormStatistics(mean: runningMean, variance: runningVar),
                            momentum: momentum, epsilon: epsilon)
    }

    /// Counts one training batch, as `callAsFunction` does, for a link that normalized outside it.
    func countBatch() { numBatchesTracked.withMutableHostValues { $0[0] += 1 } }
}

extension Conv2D {
    /// This layer as the convolution of a fused training link.
    var parameters: ConvolutionParameters {
        ConvolutionParameters(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}
