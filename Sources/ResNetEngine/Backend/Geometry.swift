/// How a convolution or pooling window pads its input.
public enum Padding: Hashable, Sendable {
    /// No padding: windows that would leave the input are dropped (TF's 'VALID').
    case valid
    /// TF's 'SAME': output = ceil(input / stride), padding split with the extra pixel at the end.
    case same
    /// Explicit pixels on each side.
    case explicit(top: Int, bottom: Int, left: Int, right: Int)

    /// Symmetric explicit padding, as PyTorch's `padding=p`.
    public static func symmetric(_ p: Int) -> Padding { .explicit(top: p, bottom: p, left: p, right: p) }

    /// TF-slim's `conv2d_same` (the seed): 'SAME' at stride 1; otherwise pad (k_eff - 1) explicitly,
    /// the extra pixel at the end, independent of the input size. Differs from 'SAME' on even inputs.
    public static func conv2dSame(kernel: Int, stride: Int, dilation: Int = 1) -> Padding {
        if stride == 1 { return .same }
        let effective = kernel + (kernel - 1) * (dilation - 1)
        let total = effective - 1
        let begin = total / 2
        return .explicit(top: begin, bottom: total - begin, left: begin, right: total - begin)
    }

    /// Resolves to (begin, end) pixels along one axis.
    func resolve(input: Int, kernel: Int, stride: Int, dilation: Int, axis: Int) -> (Int, Int) {
        switch self {
        case .valid: return (0, 0)
        case .explicit(let t, let b, let l, let r): return axis == 0 ? (t, b) : (l, r)
        case .same:
            let effective = (kernel - 1) * dilation + 1
            let output = (input + stride - 1) / stride
            let total = max((output - 1) * stride + effective - input, 0)
            return (total / 2, total - total / 2)
        }
    }
}

/// Everything that fixes a 2-D window operation's output size, resolved for one input size.
public struct WindowGeometry: Hashable, Codable, Sendable, CustomStringConvertible {
    public let kh: Int, kw: Int
    public let strideH: Int, strideW: Int
    public let dilationH: Int, dilationW: Int
    public let padTop: Int, padBottom: Int, padLeft: Int, padRight: Int
    public let inputH: Int, inputW: Int

    public init(inputH: Int, inputW: Int, kernelH: Int, kernelW: Int, stride: (Int, Int) = (1, 1),
                dilation: (Int, Int) = (1, 1), padding: Padding = .valid) {
        precondition(kernelH > 0 && kernelW > 0 && stride.0 > 0 && stride.1 > 0 && dilation.0 > 0 && dilation.1 > 0,
                     "kernel, stride and dilation must be positive")
        self.inputH = inputH; self.inputW = inputW
        kh = kernelH; kw = kernelW
        strideH = stride.0; strideW = stride.1
        dilationH = dilation.0; dilationW = dilation.1
        (padTop, padBottom) = padding.resolve(input: inputH, kernel: kernelH, stride: stride.0, dilation: dilation.0, axis: 0)
        (padLeft, padRight) = padding.resolve(input: inputW, kernel: kernelW, stride: stride.1, dilation: dilation.1, axis: 1)
        precondition(outputH > 0 && outputW > 0,
                     "window \(kernelH)x\(kernelW) (dilation \(dilation)) does not fit input \(inputH)x\(inputW) with padding \(padding)")
    }

    public var outputH: Int { (inputH + padTop + padBottom - ((kh - 1) * dilationH + 1)) / strideH + 1 }
    public var outputW: Int { (inputW + padLeft + padRight - ((kw - 1) * dilationW + 1)) / strideW + 1 }

    public var description: String {
        "\(inputH)x\(inputW)|k\(kh)x\(kw)|s\(strideH)x\(strideW)|d\(dilationH)x\(dilationW)|p\(padTop),\(padBottom),\(padLeft),\(padRight)"
    }
}

/// The pooling kinds oneDNN provides.
public enum PoolKind: String, Hashable, Sendable {
    case max
    /// Averages over the full window, padding counted as zeros (TF's and PyTorch's default is exclude).
    case averageIncludePadding
    /// Averages over the in-bounds part of the window only.
    case averageExcludePadding
}
