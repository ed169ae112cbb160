import CMPI
import Foundation
import ResNetEngine

/// The processes of one data-parallel run and the collectives training needs, over MPI (the way
/// Horovod runs): rank and size, in-place sums, broadcast, barrier, abort. A process not started by
/// `mpirun` gets `single`, which never touches MPI, so the tool behaves exactly as without it.
///
/// Collectives run on the thread that created the communicator (MPI_THREAD_FUNNELED), and every
/// rank must call them in the same order; the trainer owns one for the length of a run.
public final class Communicator {
    public let rank: Int
    public let size: Int
    /// Ranks on this machine (they share its cores).
    public let localSize: Int
    /// nil: one process, no MPI.
    private let world: MPI_Comm?

    /// One process: rank 0 of 1, every collective an identity.
    public static func single() -> Communicator { Communicator(rank: 0, size: 1, localSize: 1, world: nil) }

    private init(rank: Int, size: Int, localSize: Int, world: MPI_Comm?) {
        self.rank = rank
        self.size = size
        self.localSize = localSize
        self.world = world
    }

    /// Whether `environment` says this process was started by Open MPI's `mpirun` (or another
    /// PMIx launcher), so MPI must be initialised.
    public static func launchedByMPI(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil
    }

    /// MPI's world when started by `mpirun`, else `single()`. Initialises MPI once: call it once per
    /// process, and `finalize()` before a normal exit (mpirun reports ranks that exit without it).
    public static func fromEnvironment() -> Communicator {
        guard launchedByMPI() else { return single() }
        var initialised: Int32 = 0
        MPI_Initialized(&initialised)
        if initialised == 0 {
            var provided: Int32 = 0
            MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
        }
        let world = cmpi_comm_world()
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(world, &rank)
        MPI_Comm_size(world, &size)
        let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
        return Communicator(rank: Int(rank), size: Int(size), localSize: max(1, min(local, Int(size))), world: world)
    }

    /// More than one process takes part.
    public var isDistributed: Bool { size > 1 }
    /// Rank 0 writes the run directory and prints; the others only compute.
    public var isRoot: Bool { rank == 0 }

    /// The largest element count one MPI call takes (its counts are C ints).
    static let maxCount = Int(Int32.max)

    /// Sums `buffer` over all ranks, in place: every rank ends with the same sums.
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard let world, size > 1 else { return }
        for (start, count) in Self.chunks(buffer.count) {
            MPI_Allreduce(cmpi_in_place(), buffer.baseAddress! + start, Int32(count), cmpi_float(), cmpi_sum(), world)
        }
    }

    /// Sums `values` over all ranks, in place.
    public func allReduceSum(_ values: inout [Double]) {
        guard let world, size > 1, !values.isEmpty else { return }
        values.withUnsafeMutableBufferPointer {
            _ = MPI_Allreduce(cmpi_in_place(), $0.baseAddress!, Int32($0.count), cmpi_double(), cmpi_sum(), world)
        }
    }

    /// The smallest and largest of `value` over all ranks (equal when every rank holds the same).
    public func range(of value: UInt64) -> ClosedRange<UInt64> {
        guard let world, size > 1 else { return value...value }
        var low = value, high = value
        MPI_Allreduce(cmpi_in_place(), &low, 1, cmpi_uint64(), cmpi_min(), world)
        MPI_Allreduce(cmpi_in_place(), &high, 1, cmpi_uint64(), cmpi_max(), world)
        return low...high
    }

    /// Whether `flag` is true on any rank (a stop request seen by one rank stops all at the same step).
    public func any(_ flag: Bool) -> Bool {
        guard let world, size > 1 else { return flag }
        var value: Int32 = flag ? 1 : 0
        MPI_Allreduce(cmpi_in_place(), &value, 1, cmpi_int32(), cmpi_max(), world)
        return value != 0
    }

    /// Starts summing `buffer` over all ranks in place; the buffer must stay untouched until `wait`.
    public func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) -> PendingReduction {
        guard let world, size > 1, !buffer.isEmpty else { return PendingReduction(requests: []) }
        let requests = Self.chunks(buffer.count).map { start, count in
            var request: MPI_Request? = cmpi_request_null()
            MPI_Iallreduce(cmpi_in_place(), buffer.baseAddress! + start, Int32(count), cmpi_float(), cmpi_sum(), world, &request)
            return request
        }
        return PendingReduction(requests: requests)
    }

    /// Lets MPI advance `pending` without waiting for it.
    public func progress(_ pending: PendingReduction) {
        for i in pending.requests.indices {
            var done: Int32 = 0
            MPI_Test(&pending.requests[i], &done, cmpi_status_ignore())   // a completed request becomes MPI_REQUEST_NULL
        }
    }

    /// Blocks until `pending` has completed.
    public func wait(_ pending: PendingReduction) {
        for i in pending.requests.indices { MPI_Wait(&pending.requests[i], cmpi_status_ignore()) }
    }

    /// Replaces `buffer` on every rank with rank `root`'s.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int = 0) {
        guard let world, size > 1 else { return }
        for (start, count) in Self.chunks(buffer.count) {
            MPI_Bcast(buffer.baseAddress! + start, Int32(count), cmpi_float(), Int32(root), world)
        }
    }

    /// Rank `root`'s `value` on every rank (a decision one rank makes, such as --time-budget's epochs).
    public func broadcast(_ value: Int, root: Int = 0) -> Int {
        guard let world, size > 1 else { return value }
        var v = Int64(value)
        MPI_Bcast(&v, 1, cmpi_int64(), Int32(root), world)
        return Int(v)
    }

    /// Returns once every rank has called it.
    public func barrier() {
        guard let world, size > 1 else { return }
        MPI_Barrier(world)
    }

    /// Ends every rank of the job with `code` (a rank that failed alone would leave the others
    /// waiting in a collective for ever). Without MPI, exits this process.
    public func abort(code: Int32) -> Never {
        if let world { MPI_Abort(world, code) }
        exit(code)
    }

    /// Shuts MPI down (a no-op for `single`); no collective may follow.
    public func finalize() {
        guard world != nil else { return }
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Finalize() }
    }

    /// `count` elements as MPI-sized pieces: (start, count).
    static func chunks(_ count: Int) -> [(Int, Int)] {
        stride(from: 0, to: count, by: maxCount).map { ($0, min(maxCount, count - $0)) }
    }
}

/// A sum started by `Communicator.startAllReduceSum`, finished by `wait`; MPI updates its requests.
public final class PendingReduction {
    var requests: [MPI_Request?]
    init(requests: [MPI_Request?]) { self.requests = requests }
}

/// Synchronized batch norm's sums (`--sync-bn`) go over the ranks.
extension Communicator: CrossProcessSum {
    public func sumOverProcesses(_ values: inout [Double]) { allReduceSum(&values) }
}
