/// Where a gradient flows to from one input of an op.
enum GradEdge {
    case none
    case node(GradNode)
    case leaf(Tensor)

    init(_ t: Tensor) {
        if let fn = t.gradFn { self = .node(fn) } else if t.requiresGrad { self = .leaf(t) } else { self = .none }
    }
}

/// One recorded op: its backward function (holding only what it needs, saved outputs detached so
/// there is no reference cycle) and an edge per input. Dropped as soon as backward has run.
final class GradNode {
    let name: String
    var edges: [GradEdge]
    var backward: ((Tensor) -> [Tensor?])?

    init(name: String, edges: [GradEdge], backward: @escaping (Tensor) -> [Tensor?]) {
        self.name = name
        self.edges = edges
        self.backward = backward
    }
}

/// Attaches a backward function to `output` when recording is on and any input needs a gradient.
/// `backward` receives d(loss)/d(output) and returns one gradient (or nil) per input, in order.
@discardableResult
func record(_ name: String, _ inputs: [Tensor], _ output: Tensor,
            backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
    guard GradMode.isEnabled, inputs.contains(where: { $0.needsGradient }) else { return output }
    output.gradFn = GradNode(name: name, edges: inputs.map(GradEdge.init), backward: backward)
    return output
}
