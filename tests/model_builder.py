"""Write small .tflite models for kernel tests with the TFLite schema's object API."""

from __future__ import annotations

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

_TYPES = {
    "float32": schema.TensorType.FLOAT32, "int32": schema.TensorType.INT32,
    "int8": schema.TensorType.INT8, "int16": schema.TensorType.INT16,
    "uint8": schema.TensorType.UINT8, "int64": schema.TensorType.INT64,
    "bool": schema.TensorType.BOOL,
}
# Operators whose options table is not named after the operator.
_OPTIONS_NAME = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions",
    "MEAN": "ReducerOptions", "SUM": "ReducerOptions", "REDUCE_MAX": "ReducerOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "ADD": "AddOptions", "MUL": "MulOptions",
    "SUB": "SubOptions", "SOFTMAX": "SoftmaxOptions", "LOG_SOFTMAX": "LogSoftmaxOptions",
    "CONCATENATION": "ConcatenationOptions", "RESHAPE": "ReshapeOptions", "PAD": "PadOptions",
    "TRANSPOSE": "TransposeOptions", "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
    "HARD_SWISH": "HardSwishOptions", "LEAKY_RELU": "LeakyReluOptions",
    "QUANTIZE": "QuantizeOptions", "DEQUANTIZE": "DequantizeOptions",
    "SQUEEZE": "SqueezeOptions", "STRIDED_SLICE": "StridedSliceOptions", "SHAPE": "ShapeOptions",
    "PACK": "PackOptions", "EXPAND_DIMS": "ExpandDimsOptions", "GATHER": "GatherOptions",
    "TILE": "TileOptions", "PADV2": "PadV2Options", "SPLIT": "SplitOptions",
}


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w.capitalize() for w in rest)


class ModelBuilder:
    """Tensors and operators of one subgraph; `finish()` returns the .tflite bytes."""

    def __init__(self) -> None:
        self.tensors: list[schema.TensorT] = []
        self.buffers: list[schema.BufferT] = [schema.BufferT()]
        self.opcodes: list[tuple[int, int]] = []
        self.operators: list[schema.OperatorT] = []
        self.inputs: list[int] = []
        self.outputs: list[int] = []

    def tensor(self, name: str, shape, dtype: str = "int8", scale=None, zero_point=None,
               axis: int = 0, data: np.ndarray | None = None, shape_signature=None) -> int:
        t = schema.TensorT()
        t.name = name
        t.shape = list(shape)
        if shape_signature is not None:
            t.shapeSignature = list(shape_signature)
        t.type = _TYPES[dtype]
        if scale is not None:
            q = schema.QuantizationParametersT()
            q.scale = [float(s) for s in np.atleast_1d(scale)]
            zps = np.atleast_1d(zero_point if zero_point is not None else 0)
            if zps.size == 1 and len(q.scale) > 1:
                zps = np.repeat(zps, len(q.scale))
            q.zeroPoint = [int(z) for z in zps]
            q.quantizedDimension = axis
            t.quantization = q
        if data is not None:
            b = schema.BufferT()
            b.data = np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<")).tobytes()
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0
        self.tensors.append(t)
        return len(self.tensors) - 1

    def const(self, name: str, data: np.ndarray, scale=None, zero_point=None, axis: int = 0) -> int:
        dtype = str(np.asarray(data).dtype)
        return self.tensor(name, np.shape(data), dtype, scale, zero_point, axis, data=np.asarray(data))

    def input(self, name: str, shape, dtype: str = "int8", scale=None, zero_point=None, **kw) -> int:
        idx = self.tensor(name, shape, dtype, scale, zero_point, **kw)
        self.inputs.append(idx)
        return idx

    def output(self, idx: int) -> int:
        self.outputs.append(idx)
        return idx

    def op(self, op_type: str, inputs: list[int], outputs: list[int], version: int = 1,
           **options) -> None:
        code = getattr(schema.BuiltinOperator, op_type)
        key = (code, version)
        if key not in self.opcodes:
            self.opcodes.append(key)
        o = schema.OperatorT()
        o.opcodeIndex = self.opcodes.index(key)
        o.inputs = list(inputs)
        o.outputs = list(outputs)
        options_name = _OPTIONS_NAME.get(op_type)
        if options_name is not None:
            opts = getattr(schema, options_name + "T")()
            for k, v in options.items():
                attr = _camel(k)
                if not hasattr(opts, attr):
                    raise AttributeError(f"{options_name} has no field {attr}")
                setattr(opts, attr, v)
            o.builtinOptionsType = getattr(schema.BuiltinOptions, options_name)
            o.builtinOptions = opts
        elif options:
            raise ValueError(f"no options table known for {op_type}")
        self.operators.append(o)

    def finish(self) -> bytes:
        m = schema.ModelT()
        m.version = 3
        codes = []
        for code, version in self.opcodes:
            oc = schema.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, 127)
            oc.version = version
            codes.append(oc)
        m.operatorCodes = codes
        sg = schema.SubGraphT()
        sg.tensors = self.tensors
        sg.operators = self.operators
        sg.inputs = self.inputs
        sg.outputs = self.outputs
        m.subgraphs = [sg]
        m.buffers = self.buffers
        builder = flatbuffers.Builder(1024)
        builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())
