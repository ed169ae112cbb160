import Foundation
import XCTest
import ResNetEngine

/// A user's thread count is checked against this machine's cores: a thousand OpenMP threads on
/// two cores make no progress, and zero is meaningless.
final class ThreadLimitTests: XCTestCase {
    func testThreadsMustBeBetweenOneAndTheCores() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        XCTAssertEqual(OneDNN.maxThreads, cores)
        for n in [0, -1, cores + 1, 1000] {
            XCTAssertThrowsError(try OneDNN.validateThreads(n)) {
                XCTAssertEqual($0 as? ThreadCountError, ThreadCountError(requested: n, limit: cores))
                XCTAssertEqual("\($0)", "threads must be between 1 and \(cores) (the cores of this machine), got \(n)")
            }
        }
        XCTAssertNoThrow(try OneDNN.validateThreads(1))
        XCTAssertNoThrow(try OneDNN.validateThreads(cores))
    }
}
