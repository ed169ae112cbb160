import CDNNL
import Foundation

/// Splits `0..<count` into one contiguous chunk per thread and runs them on oneDNN's own OpenMP
/// pool (libgomp's `GOMP_parallel`, the call `#pragma omp parallel` compiles to). Sharing the pool
/// matters: OpenMP workers spin after each oneDNN call, and a second pool (Dispatch) competing
/// with them for the two cores slows both sharply (measured in CPU.md).
public func parallelChunks(_ count: Int, minimumChunk: Int = 1 << 14, _ body: (Range<Int>) -> Void) {
    let workers = min(OpenMP.threads, max(1, count / max(minimumChunk, 1)))
    if workers <= 1 || OpenMP.parallel == nil { body(0..<count); return }
    withoutActuallyEscaping(body) { body in
        let chunk = (count + workers - 1) / workers
        // OpenMP may start fewer threads than asked (nested inside another parallel region, under
        // OMP_THREAD_LIMIT): each thread then takes every team-size-th chunk, so none is skipped.
        let task = ParallelTask { thread, team in
            var i = thread
            while i < workers {
                let start = i * chunk
                let end = min(start + chunk, count)
                if start < end { body(start..<end) }
                i += max(team, 1)
            }
        }
        let context = Unmanaged.passUnretained(task).toOpaque()
        OpenMP.parallel!({ context in
            let task = Unmanaged<ParallelTask>.fromOpaque(context!).takeUnretainedValue()
            task.run(Int(OpenMP.threadNumber!()), Int(OpenMP.teamSize?() ?? 1))
        }, context, UInt32(workers), 0)
        withExtendedLifetime(task) {}
    }
}

/// Runs `body(i)` for i in 0..<iterations spread over the OpenMP threads.
public func parallelFor(_ iterations: Int, _ body: (Int) -> Void) {
    parallelChunks(iterations, minimumChunk: 1) { range in for i in range { body(i) } }
}

private final class ParallelTask {
    let run: (Int, Int) -> Void
    init(_ run: @escaping (Int, Int) -> Void) { self.run = run }
}

/// libgomp's entry points, looked up at run time: libgomp comes in with libdnnl, and has no -dev
/// link name of its own.
enum OpenMP {
    typealias ParallelFn = @convention(c) (@convention(c) (UnsafeMutableRawPointer?) -> Void, UnsafeMutableRawPointer?, UInt32, UInt32) -> Void
    static let parallel: ParallelFn? = symbol("GOMP_parallel")
    static let threadNumber: (@convention(c) () -> Int32)? = symbol("omp_get_thread_num")
    static let teamSize: (@convention(c) () -> Int32)? = symbol("omp_get_num_threads")
    static let maxThreads: (@convention(c) () -> Int32)? = symbol("omp_get_max_threads")
    static let setNumThreads: (@convention(c) (Int32) -> Void)? = symbol("omp_set_num_threads")
    static var threads: Int { OneDNN.threads }

    static func symbol<T>(_ name: String) -> T? {
        _ = dnnl_version()  // make sure libdnnl, and with it libgomp, is loaded and initialised
        guard let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(f, to: T.self)
    }
}
