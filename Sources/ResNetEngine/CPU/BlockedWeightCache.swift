import CDNNL
import Foundation

/// Inference weights already reordered into the blocked layout oneDNN's kernel wants (or otherwise
/// transformed, as for Winograd), kept while the weight's storage is the same object at the same
/// `version`. Without it every inference call reorders every weight: at batch 1 that costs about
/// as much as the convolutions themselves.
/// Training never uses it: its weights change every step. One per backend.
final class BlockedWeightCache: @unchecked Sendable {
    private struct Entry {
        weak var source: Storage?
        let version: UInt64
        /// What was made: a oneDNN layout's descriptor, or a transform's name.
        let key: Data
        let value: Storage
    }

    private var entries: [ObjectIdentifier: [Entry]] = [:]
    private let lock = NSLock()

    /// `make(weights)`, computed on the first call after a change and kept under `key` (a layout,
    /// or another transform such as Winograd's).
    func cached(_ weights: Tensor, key: Data, make: (Tensor) -> Storage) -> Storage {
        let source = weights.storage, id = ObjectIdentifier(source)
        lock.lock(); defer { lock.unlock() }
        if let hit = entries[id]?.first(where: { $0.source === source && $0.version == source.version && $0.key == key }) {
            return hit.value
        }
        let value = make(weights)
        // Entries of changed or freed weights go; a freed storage's identifier may be reused.
        entries[id] = (entries[id] ?? []).filter { $0.source === source && $0.version == source.version }
        entries[id]!.append(Entry(source: source, version: source.version, key: key, value: value))
        if entries.count > 64 { entries = entries.filter { $0.value.contains { $0.source != nil } } }
        return value
    }

    /// Bytes held in cached weights.
    var bytes: Int {
        lock.lock(); defer { lock.unlock() }
        return entries.values.joined().reduce(0) { $0 + $1.value.count * 4 }
    }

    func removeAll() { lock.lock(); entries.removeAll(); lock.unlock() }
}

extension CPUBackend {
    /// `weights` (described by `plain`) in the `wanted` layout, reordered on the first call after a change.
    func cachedBlockedWeights(_ weights: Tensor, plain: dnnl_memory_desc_t, wanted: dnnl_memory_desc_t) -> Storage {
        weightCache.cached(weights, key: descKey(wanted)) { weights in
            let blocked = Storage(count: (descSize(wanted) + 3) / 4)
            reorder(from: plain, raw(weights), to: wanted, raw(blocked))
            return blocked
        }
    }
}
