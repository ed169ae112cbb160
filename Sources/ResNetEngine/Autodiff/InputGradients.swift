/// The gradients an op's backward returns, keyed by the role each input plays instead of by its
/// position, so an op with optional inputs (a fused link's bias, batch norms or residual) cannot
/// hand one input's gradient to the next when an earlier one is absent.
struct InputGradients<Role: Hashable> {
    private var byRole: [Role: Tensor] = [:]

    init() {}

    /// The gradient for `role`; nil when that input gets none.
    subscript(role: Role) -> Tensor? {
        get { byRole[role] }
        set { byRole[role] = newValue }
    }

    var roles: Dictionary<Role, Tensor>.Keys { byRole.keys }
}

/// `record` for an op whose inputs are named by role: absent (nil) inputs get no edge, and the
/// backward's gradients are matched to the edges by role. Edges keep the order of `inputs`.
@discardableResult
func record<Role: Hashable>(_ name: String, roles inputs: [(role: Role, tensor: Tensor?)], _ output: Tensor,
                            backward: @escaping (Tensor) -> InputGradients<Role>) -> Tensor {
    let present = inputs.compactMap { input in input.tensor.map { (role: input.role, tensor: $0) } }
    let roles = present.map(\.role)
    precondition(Set(roles).count == roles.count, "\(name): an input role is given twice")
    return record(name, present.map(\.tensor), output) { dy in
        let gradients = backward(dy)
        precondition(gradients.roles.allSatisfy(roles.contains), "\(name) returned a gradient for an input it was not given")
        return roles.map { gradients[$0] }
    }
}
