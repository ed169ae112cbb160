import Foundation
import SwiftProtobuf

#if !_endian(little)
#error("ONNX raw_data is little-endian: a big-endian host would need byte swaps in ONNXGraphBuilder.floats")
#endif

/// Collects an ONNX graph's nodes and initializers under unique names: the vocabulary
/// (`Conv`, `Gemm`, attributes, float and int64 tensors) the exporter speaks in.
struct ONNXGraphBuilder {
    private(set) var nodes: [Onnx_NodeProto] = []
    private(set) var initializers: [Onnx_TensorProto] = []
    private var names: Set<String> = []

    /// Adds a node computing `outputs` from `inputs`; returns its first output's name.
    @discardableResult
    mutating func node(_ opType: String, name: String, inputs: [String], outputs: [String],
                       attributes: [Onnx_AttributeProto] = []) -> String {
        precondition(names.insert(name).inserted, "ONNX node name \(name) used twice")
        var n = Onnx_NodeProto()
        n.opType = opType
        n.name = name
        n.input = inputs
        n.output = outputs
        n.attribute = attributes
        nodes.append(n)
        return outputs[0]
    }

    /// A float32 initializer (little-endian raw data, as ONNX Runtime reads it fastest).
    @discardableResult
    mutating func floats(_ name: String, shape: [Int], _ values: [Float]) -> String {
        precondition(values.count == shape.reduce(1, *), "initializer \(name): \(values.count) values for shape \(shape)")
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = shape.map(Int64.init)
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        // ONNX raw data is little-endian, as every host Swift runs on here.
        t.rawData = values.withUnsafeBytes { Data($0) }
        initializers.append(t)
        return name
    }

    /// An int64 initializer (shapes, axes, pads of Slice and Pad).
    @discardableResult
    mutating func int64s(_ name: String, _ values: [Int64]) -> String {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = [Int64(values.count)]
        t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        t.rawData = values.map(\.littleEndian).withUnsafeBytes { Data($0) }
        initializers.append(t)
        return name
    }

    static func attribute(_ name: String, int value: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = Int64(value)
        return a
    }

    static func attribute(_ name: String, ints values: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = values.map(Int64.init)
        return a
    }

    static func attribute(_ name: String, float value: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = value
        return a
    }

    /// A float tensor's type with a symbolic first (batch) dimension.
    static func valueInfo(_ name: String, batch: String, shape: [Int]) -> Onnx_ValueInfoProto {
        var dims: [Onnx_TensorShapeProto.Dimension] = []
        var b = Onnx_TensorShapeProto.Dimension()
        b.dimParam = batch
        dims.append(b)
        for s in shape {
            var d = Onnx_TensorShapeProto.Dimension()
            d.dimValue = Int64(s)
            dims.append(d)
        }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.shape.dim = dims
        var type = Onnx_TypeProto()
        type.tensorType = tensor
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = type
        return info
    }
}
