extension Tensor {
    /// Reverse-mode differentiation from this tensor (a scalar loss unless `seed` is given):
    /// gradients accumulate into the `grad` of every leaf that requires one.
    ///
    /// Nodes run in dependency order; each is released right after its backward, so the
    /// activations it saved are freed as early as the graph allows.
    ///
    /// `whenFinal` is called with each leaf as soon as the last gradient reaching it has been added,
    /// while backward goes on: data-parallel training starts that gradient's all-reduce there.
    public func backward(seed: Tensor? = nil, whenFinal: ((Tensor) -> Void)? = nil) {
        let g = seed ?? Tensor(repeating: 1, shape: shape)
        precondition(g.shape == shape, "backward seed \(g.shape) does not match \(shape)")
        guard let root = gradFn else {
            if requiresGrad {
                accumulateGradient(g)
                whenFinal?(self)
            }
            return
        }
        // Count, for every node, how many consumers will send it a gradient (and for every leaf, when asked).
        var pendingConsumers: [ObjectIdentifier: Int] = [:]
        var pendingLeafEdges: [ObjectIdentifier: Int] = [:]
        var visited: Set<ObjectIdentifier> = [ObjectIdentifier(root)]
        var stack = [root]
        while let node = stack.popLast() {
            for edge in node.edges {
                switch edge {
                case .node(let input):
                    let id = ObjectIdentifier(input)
                    pendingConsumers[id, default: 0] += 1
                    if visited.insert(id).inserted { stack.append(input) }
                case .leaf(let t) where whenFinal != nil: pendingLeafEdges[ObjectIdentifier(t), default: 0] += 1
                default: break
                }
            }
        }
        var gradients: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): g]
        var ready = [root]
        while let node = ready.popLast() {
            let id = ObjectIdentifier(node)
            guard let fn = node.backward, let dy = gradients.removeValue(forKey: id) else {
                preconditionFailure("backward through \(node.name) a second time: the graph is freed after backward")
            }
            let inputGradients = fn(dy)
            let edges = node.edges
            node.backward = nil
            node.edges = []
            precondition(inputGradients.count == edges.count, "\(node.name) returned \(inputGradients.count) gradients for \(edges.count) inputs")
            for (edge, grad) in zip(edges, inputGradients) {
                if case .leaf(let t) = edge, let whenFinal {
                    if let grad { t.accumulateGradient(grad) }
                    let id = ObjectIdentifier(t)
                    pendingLeafEdges[id]! -= 1
                    if pendingLeafEdges[id]! == 0 { whenFinal(t) }
                    continue
                }
                guard let grad else { continue }
                switch edge {
                case .none: break
                case .leaf(let t): t.accumulateGradient(grad)
                case .node(let input):
                    let inputID = ObjectIdentifier(input)
                    if let existing = gradients[inputID] {
                        gradients[inputID] = Backend.current.add(existing, grad)
                    } else {
                        gradients[inputID] = grad
                    }
                    pendingConsumers[inputID]! -= 1
                    if pendingConsumers[inputID]! == 0 { ready.append(input) }
                }
            }
        }
    }

    /// Adds `g` into `grad`. The first gradient is copied: op backwards may hand the same buffer
    /// to several inputs (an add passes dy to both), and `grad` is later updated in place.
    func accumulateGradient(_ g: Tensor) {
        precondition(g.count == count, "gradient \(g.shape) for a tensor of shape \(shape)")
        if let existing = grad {
            Backend.current.addInPlace(existing, g)
        } else {
            let c = g.copy()
            grad = Tensor(shape: shape, storage: c.storage)
        }
    }

    /// Clears the accumulated gradient (the optimizer's `zeroGrad`).
    public func zeroGradient() { grad = nil }
}
