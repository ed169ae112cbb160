import XCTest
final class ModelsPlaceholderTests: XCTestCase { func testNothingYet() { XCTAssertEqual(1 + 1, 2) } }
