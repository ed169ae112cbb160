import Dispatch

/// Splits `0..<count` into one contiguous chunk per core and runs them concurrently. Used only for
/// Swift-side kernels, which never overlap a oneDNN call (ops run one at a time).
public func parallelChunks(_ count: Int, minimumChunk: Int = 1 << 14, _ body: (Range<Int>) -> Void) {
    let workers = min(ProcessInfoCores.count, max(1, count / minimumChunk))
    if workers <= 1 { body(0..<count); return }
    let chunk = (count + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { i in
        let start = i * chunk
        let end = min(start + chunk, count)
        if start < end { body(start..<end) }
    }
}

enum ProcessInfoCores {
    static let count = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
}

import Foundation
