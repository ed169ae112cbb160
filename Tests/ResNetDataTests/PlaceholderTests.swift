import XCTest
@testable import ResNetData
final class PlaceholderTests: XCTestCase { func testModuleLoads() { XCTAssertEqual(String(describing: ResNetDataModule.self), "ResNetDataModule") } }
