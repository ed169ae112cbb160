extension WindowGeometry {
    /// The arrays oneDNN's convolution and pooling descriptors take, (height, width) each.
    struct DNNLWindow {
        let strides: [Int64], kernel: [Int64], dilation: [Int64], padLeft: [Int64], padRight: [Int64]
    }

    /// oneDNN's view: dilation counts the gaps (PyTorch's dilation - 1), and the right/bottom
    /// padding is recomputed from the output size, which is what oneDNN checks it against.
    var dnnl: DNNLWindow {
        let padBottom = (outputH - 1) * strideH + (kh - 1) * dilationH + 1 - inputH - padTop
        let padRight = (outputW - 1) * strideW + (kw - 1) * dilationW + 1 - inputW - padLeft
        return DNNLWindow(strides: [Int64(strideH), Int64(strideW)], kernel: [Int64(kh), Int64(kw)],
                          dilation: [Int64(dilationH - 1), Int64(dilationW - 1)],
                          padLeft: [Int64(padTop), Int64(padLeft)], padRight: [Int64(padBottom), Int64(padRight)])
    }
}
