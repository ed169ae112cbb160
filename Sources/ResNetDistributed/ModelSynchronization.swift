import ResNetEngine

/// Keeping the ranks' copies of one model identical: rank 0's state broadcast at the start and
/// checked, batch-norm running statistics averaged at the end of each epoch.
extension Communicator {
    /// Replaces every float32 tensor's values by rank `root`'s.
    public func broadcast(_ tensors: [Tensor], root: Int = 0) {
        guard isDistributed else { return }
        for t in tensors where t.dtype == .float32 { t.withMutableHostValues { broadcast($0, root: root) } }
    }

    /// Replaces every float32 tensor's values by their mean over the ranks.
    public func average(_ tensors: [Tensor]) {
        guard isDistributed else { return }
        let scale = 1 / Float(size)
        for t in tensors where t.dtype == .float32 {
            t.withMutableHostValues { values in
                allReduceSum(values)
                for i in values.indices { values[i] *= scale }
            }
        }
    }

    /// Whether every rank holds bit-identical values in `tensors` (compared by a 64-bit FNV-1a
    /// digest of their bytes, in order).
    public func holdSameValues(_ tensors: [Tensor]) -> Bool {
        guard isDistributed else { return true }
        let digest = Self.digest(tensors)
        let seen = range(of: digest)
        return seen.lowerBound == seen.upperBound
    }

    /// FNV-1a over the float32 bit patterns of `tensors`.
    static func digest(_ tensors: [Tensor]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for t in tensors where t.dtype == .float32 {
            t.withHostValues { values in
                for v in values {
                    hash = (hash ^ UInt64(v.bitPattern)) &* 0x0000_0100_0000_01b3
                }
            }
        }
        return hash
    }
}
