import ResNetEngine

/// A layer or a network: named parameters, buffers and child modules, in torchvision's key schema
/// (`layer1.0.downsample.0.weight`), so state dictionaries match PyTorch's files name for name.
open class Module {
    public private(set) var children: [(name: String, module: Module)] = []
    public private(set) var localParameters: [(name: String, tensor: Tensor)] = []
    public private(set) var localBuffers: [(name: String, tensor: Tensor)] = []
    /// The dotted path of this module in its model ("" for the root), set when it is registered.
    public private(set) var path = ""
    /// Training mode: batch norm uses batch statistics and updates its running ones.
    public private(set) var isTraining = true

    public init() {}

    /// Registers a child under `name` and returns it, so a property can be set in one line.
    @discardableResult
    public func register<M: Module>(_ name: String, _ module: M) -> M {
        children.append((name, module))
        module.setPath(path.isEmpty ? name : "\(path).\(name)")
        return module
    }

    public func registerParameter(_ name: String, _ tensor: Tensor) {
        tensor.requiresGrad = true
        localParameters.append((name, tensor))
    }

    public func registerBuffer(_ name: String, _ tensor: Tensor) { localBuffers.append((name, tensor)) }

    private func setPath(_ p: String) {
        path = p
        for (name, child) in children { child.setPath("\(p).\(name)") }
    }

    /// A name for this module in summaries: its path, or its type for the root.
    public var displayName: String { path.isEmpty ? String(describing: type(of: self)) : path }

    /// Every trainable parameter with its full dotted name, in definition order.
    public var namedParameters: [(name: String, tensor: Tensor)] { collect { $0.localParameters } }

    /// Every buffer (running statistics, counters) with its full dotted name.
    public var namedBuffers: [(name: String, tensor: Tensor)] { collect { $0.localBuffers } }

    private func collect(_ pick: (Module) -> [(name: String, tensor: Tensor)], prefix: String = "") -> [(name: String, tensor: Tensor)] {
        var out = pick(self).map { (prefix + $0.name, $0.tensor) }
        for (name, child) in children { out += child.collect(pick, prefix: prefix + name + ".") }
        return out
    }

    /// Every module in the tree, depth first, this one included.
    public var modules: [Module] { [self] + children.flatMap { $0.module.modules } }

    /// Switches this module and all its children to training or evaluation mode.
    public func train(_ on: Bool = true) {
        isTraining = on
        for (_, child) in children { child.train(on) }
    }

    public func eval() { train(false) }

    /// Parameters that currently take gradients (frozen ones excluded).
    public var trainableParameters: [(name: String, tensor: Tensor)] { namedParameters.filter { $0.tensor.requiresGrad } }
}

extension Module {
    /// Parameters and buffers by name: what a checkpoint file holds.
    public func stateDict() -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (n, t) in namedParameters { d[n] = t }
        for (n, t) in namedBuffers { d[n] = t }
        return d
    }

    /// The ordered list of state names, as torchvision orders them (parameters then buffers, per module).
    public var stateNames: [String] {
        var names: [String] = []
        for m in modules {
            let prefix = m.path.isEmpty ? "" : m.path + "."
            names += m.localParameters.map { prefix + $0.name } + m.localBuffers.map { prefix + $0.name }
        }
        return names
    }

    /// Copies values in by name. `strict` refuses unexpected keys and missing ones (except those
    /// `optional` accepts); `skipping` names keys left as they are. A shape mismatch is always refused,
    /// naming the first offending key. Everything is checked before anything is copied, so a bad
    /// state leaves the module untouched.
    public func loadStateDict(_ state: [String: Tensor], strict: Bool = true, skipping: Set<String> = [],
                              optional: (String) -> Bool = { _ in false }) throws {
        let own = stateDict()
        if strict, let extra = state.keys.sorted().first(where: { own[$0] == nil }) { throw StateError.unexpectedKey(extra) }
        var copies: [(target: Tensor, value: Tensor)] = []
        for name in stateNames where !skipping.contains(name) {
            guard let value = state[name] else {
                if strict && !optional(name) { throw StateError.missingKey(name) }
                continue
            }
            let target = own[name]!
            // The element counts too: a value whose storage is shorter than its shape would be
            // read past its end by `assign` (a file's tensors are built from its own header).
            guard value.shape == target.shape || (value.count == 1 && target.count == 1),
                  value.count == target.count, value.storage.count >= value.count else {
                throw StateError.shapeMismatch(key: name, expected: target.shape, found: value.shape)
            }
            copies.append((target, value))
        }
        for (target, value) in copies { target.assign(value) }
    }
}

/// Why a state dictionary did not load.
public enum StateError: Error, CustomStringConvertible, Equatable {
    case missingKey(String)
    case unexpectedKey(String)
    case shapeMismatch(key: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .missingKey(let k): return "missing key '\(k)'"
        case .unexpectedKey(let k): return "unexpected key '\(k)' (not a parameter or buffer of this model)"
        case .shapeMismatch(let k, let e, let f): return "key '\(k)' has shape \(f), the model expects \(e)"
        }
    }
}
