import ResNetEngine
@testable import ResNetTraining
import XCTest

/// The shared two-step example: p0 = [1, 2, 3], then g1 = [0.5, -1, 2], then g2 = [1, 0, -0.5].
enum TwoStepExample {
    static let initial: [Float] = [1, 2, 3]
    static let gradients: [[Float]] = [[0.5, -1, 2], [1, 0, -0.5]]

    /// A named parameter holding `values`, shaped as the name's layer would be (rank 4 for a conv weight).
    static func parameter(_ name: String = "fc.bias", shape: [Int] = [3], values: [Float] = initial) -> (name: String, tensor: Tensor) {
        (name, Tensor(shape: shape, values: values, requiresGrad: true))
    }

    /// Runs `gradients` through the optimizer, one step each, and returns the parameter after every step.
    static func run(_ optimizer: Optimizer, gradients: [[Float]] = gradients) -> [[Float]] {
        gradients.map { g in
            for (_, tensor) in optimizer.parameters { tensor.grad = Tensor(shape: tensor.shape, values: g) }
            optimizer.step()
            optimizer.zeroGrad()
            return optimizer.parameters[0].tensor.toArray()
        }
    }
}

func assertClose(_ actual: [Float], _ expected: [Float], accuracy: Float = 1e-6, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "count \(message)", file: file, line: line)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        XCTAssertEqual(a, e, accuracy: accuracy, "element \(i) \(message): \(actual) vs \(expected)", file: file, line: line)
    }
}
