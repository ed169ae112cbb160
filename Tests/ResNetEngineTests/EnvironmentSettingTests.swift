import XCTest
import ResNetEngine

/// Every `SWIFTRESNET_*` variable is read through one function: unset gives the default, a valid
/// value its parse, and a typo a warning naming the variable, the value and what was expected.
final class EnvironmentSettingTests: XCTestCase {
    private func read(_ environment: [String: String]) -> (value: Int, warnings: [String]) {
        var warnings: [String] = []
        let value = EnvironmentSetting.read("SWIFTRESNET_TEST", fallback: 128, fallbackText: "128", expected: "a count",
                                            environment: environment, warn: { warnings.append($0) }) { text in
            Int(text).flatMap { $0 >= 0 ? $0 : nil }
        }
        return (value, warnings)
    }

    func testUnsetGivesTheDefaultQuietly() {
        let r = read(["OTHER": "5"])
        XCTAssertEqual(r.value, 128)
        XCTAssertEqual(r.warnings, [])
    }

    func testAValidValueIsParsed() {
        let r = read(["SWIFTRESNET_TEST": "0"])
        XCTAssertEqual(r.value, 0)
        XCTAssertEqual(r.warnings, [])
    }

    func testATypoIsNamedAndTheDefaultUsed() {
        for bad in ["12x", "-3", ""] {
            let r = read(["SWIFTRESNET_TEST": bad])
            XCTAssertEqual(r.value, 128, bad)
            XCTAssertEqual(r.warnings, ["warning: SWIFTRESNET_TEST=\(bad) is not a count; using 128"], bad)
        }
    }
}
