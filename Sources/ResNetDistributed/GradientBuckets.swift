import Foundation
import ResNetEngine

/// Gradients fused into buckets for the all-reduce (PyTorch DDP's design): one MPI call per ~25 MB
/// instead of one per parameter, filled in reverse parameter order, the order backward finishes
/// them. The layout depends only on the parameters' shapes and the capacity, so it is identical on
/// every rank, and buckets are always started in index order: the reduction order is fixed and two
/// runs with the same seed and world size are bit-identical.
///
/// `parameterFinished` starts a bucket's sum as soon as its last gradient is final, overlapping
/// communication with the rest of backward; `finish` starts what is left, waits, and writes the
/// averages back into the gradients.
public final class GradientBuckets {
    /// Bucket members: a parameter index and where its gradient sits in the bucket.
    public struct Member: Equatable {
        public let parameter: Int
        public let offset: Int
        public let count: Int
    }

    /// PyTorch DDP's default `bucket_cap_mb`.
    public static let defaultCapacityBytes = 25 * 1024 * 1024

    /// The buckets, in the order they are reduced.
    public let layout: [[Member]]
    private let parameters: [Tensor]
    private let communicator: Communicator
    private var buffers: [UnsafeMutableBufferPointer<Float>]
    /// Which bucket each parameter index sits in.
    private let bucketOf: [Int]
    /// Parameter indices by tensor identity, for backward's hook.
    private let indexOf: [ObjectIdentifier: Int]
    private var waiting: [Int]
    private var pending: [PendingReduction?]
    private var nextToStart = 0
    /// Seconds spent blocked waiting for sums (the all-reduce time backward did not hide), and
    /// seconds from the first start to the end of `finish`, since `resetTimes`.
    public private(set) var waitSeconds = 0.0
    /// Buckets started from backward's hook (overlapped) and in `finish`, since `resetTimes`.
    public private(set) var startedDuringBackward = 0
    public private(set) var startedAfterBackward = 0
    public private(set) var steps = 0

    public init(parameters: [Tensor], communicator: Communicator, capacityBytes: Int = GradientBuckets.defaultCapacityBytes) {
        self.parameters = parameters
        self.communicator = communicator
        layout = Self.layout(counts: parameters.map(\.count), capacity: max(1, capacityBytes / MemoryLayout<Float>.stride))
        var bucketOf = [Int](repeating: 0, count: parameters.count)
        for (b, members) in layout.enumerated() { for m in members { bucketOf[m.parameter] = b } }
        self.bucketOf = bucketOf
        indexOf = Dictionary(uniqueKeysWithValues: parameters.enumerated().map { (ObjectIdentifier($1), $0) })
        buffers = layout.map { members in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: members.reduce(0) { $0 + $1.count })
            buffer.initialize(repeating: 0)
            return buffer
        }
        waiting = layout.map(\.count)
        pending = Array(repeating: nil, count: layout.count)
    }

    deinit { for buffer in buffers { buffer.deallocate() } }

    /// Greedy buckets over the parameters in reverse order, each closed when the next gradient
    /// would pass `capacity` elements (a larger gradient gets a bucket of its own).
    static func layout(counts: [Int], capacity: Int) -> [[Member]] {
        var buckets: [[Member]] = [], current: [Member] = [], filled = 0
        for index in counts.indices.reversed() {
            if filled > 0 && filled + counts[index] > capacity {
                buckets.append(current)
                current = []
                filled = 0
            }
            current.append(Member(parameter: index, offset: filled, count: counts[index]))
            filled += counts[index]
        }
        if !current.isEmpty { buckets.append(current) }
        return buckets
    }

    /// Marks `parameter`'s gradient final for this step (backward's hook); starts every bucket, in
    /// order, whose gradients are all final. Tensors that are not among the parameters are ignored.
    public func parameterFinished(_ parameter: Tensor) {
        guard let index = indexOf[ObjectIdentifier(parameter)] else { return }
        parameterFinished(index)
    }

    /// Marks parameter `index`'s gradient final for this step.
    public func parameterFinished(_ index: Int) {
        let b = bucketOf[index]
        waiting[b] -= 1
        while nextToStart < layout.count && waiting[nextToStart] == 0 { start(nextToStart) }
        // Open MPI moves a non-blocking collective forward only inside MPI calls: give it a turn.
        for case let p? in pending { communicator.progress(p) }
    }

    private func start(_ b: Int) {
        let buffer = buffers[b]
        for m in layout[b] {
            let slot = UnsafeMutableBufferPointer(rebasing: buffer[m.offset..<(m.offset + m.count)])
            if let grad = parameters[m.parameter].grad {
                grad.withHostValues { _ = slot.update(fromContentsOf: $0) }
            } else {
                slot.update(repeating: 0)   // a parameter this batch did not reach: its gradient is zero
            }
        }
        pending[b] = communicator.startAllReduceSum(buffer)
        nextToStart = b + 1
    }

    /// Starts the buckets not started yet, waits for all, and replaces every gradient by its mean
    /// over the ranks. Ready for the next step after.
    public func finish() {
        let startedEarly = nextToStart
        startedDuringBackward += startedEarly
        startedAfterBackward += layout.count - startedEarly
        while nextToStart < layout.count { start(nextToStart) }
        let began = DispatchTime.now().uptimeNanoseconds
        for b in layout.indices { if let p = pending[b] { communicator.wait(p) } }
        waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
        let scale = 1 / Float(communicator.size)
        for (b, members) in layout.enumerated() {
            for m in members {
                let parameter = parameters[m.parameter]
                if parameter.grad == nil { parameter.grad = Tensor(zeros: parameter.shape) }
                parameter.grad!.withMutableHostValues { grad in
                    for i in 0..<m.count { grad[i] = buffers[b][m.offset + i] * scale }
                }
            }
        }
        waiting = layout.map(\.count)
        pending = Array(repeating: nil, count: layout.count)
        nextToStart = 0
        steps += 1
    }

    /// Zeroes the timing counters (the trainer reports them per epoch).
    public func resetTimes() {
        waitSeconds = 0
        steps = 0
        startedDuringBackward = 0
        startedAfterBackward = 0
    }
}
