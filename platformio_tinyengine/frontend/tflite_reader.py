"""Read a .tflite flatbuffer into the IR, validating everything it relies on.

Every malformation a file can carry ends in ModelError with a message naming the
tensor or operator at fault; nothing from the flatbuffer library escapes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import tflite
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.TensorType import TensorType

from ..errors import ModelError
from ..ir import DTYPE_BYTES, Graph, Operator, Quant, Tensor

_OP_NAMES = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
_OPTION_CLASSES = {v: k for k, v in vars(BuiltinOptions).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k.lower() for k, v in vars(TensorType).items() if not k.startswith("_")}
_NUMPY_TYPES = {
    "float32": "<f4", "float16": "<f2", "int32": "<i4", "uint8": "u1", "int64": "<i8",
    "bool": "u1", "int16": "<i2", "int8": "i1", "float64": "<f8",
}
MAX_TENSOR_BYTES = 1 << 31
# Far beyond any microcontroller model (hundreds of operators); bounds the time a crafted file
# can take, as the memory planner's work grows with the square of the operator count.
MAX_OPERATORS = 10_000
# Zero points must be values of the tensor's own type; any other tensor's fit in 32 bits.
_ZERO_POINT_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
_INT32_RANGE = (-(1 << 31), (1 << 31) - 1)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _read_options(op) -> dict:
    """Decode an operator's builtin options table into a plain dict of snake_case keys."""
    kind = op.BuiltinOptionsType()
    if kind == 0 or op.BuiltinOptions() is None:
        return {}
    class_name = _OPTION_CLASSES.get(kind)
    if class_name is None or not hasattr(tflite, class_name):
        return {}
    table = op.BuiltinOptions()
    options = getattr(tflite, class_name)()
    options.Init(table.Bytes, table.Pos)
    result = {}
    for attr in dir(options):
        if attr.startswith("_") or attr in ("Init",) or attr.startswith("GetRootAs"):
            continue
        if attr.endswith(("AsNumpy", "IsNone", "Length")) or "BufferHasIdentifier" in attr:
            continue
        method = getattr(options, attr)
        if not callable(method):
            continue
        length = getattr(options, attr + "Length", None)
        if length is not None:
            result[_snake(attr)] = [int(method(j)) for j in range(length())]
            continue
        try:
            result[_snake(attr)] = method()
        except TypeError:
            continue
    return result


def _printable(raw: bytes) -> str:
    """A name from the file, for messages and comments: control and format characters (terminal
    escapes, newlines, bidi overrides) become '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in raw.decode(errors="replace"))


def _op_name(code) -> str:
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == BuiltinOperator.CUSTOM:
        custom = code.CustomCode()
        return f"CUSTOM({_printable(custom) if custom else '?'})"
    return _OP_NAMES.get(builtin, f"UNKNOWN_OPCODE_{builtin}")


def _read_quant(t, name: str, dtype: str, shape: tuple[int, ...], constant: bool) -> Quant | None:
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0:
        return None
    scale = q.ScaleAsNumpy().astype(np.float32)
    if q.ZeroPointLength() not in (q.ScaleLength(), 1):
        raise ModelError(f"tensor '{name}' has {q.ScaleLength()} scales but {q.ZeroPointLength()} zero points")
    zp = q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() else np.zeros(1, np.int64)
    if zp.size != scale.size:
        zp = np.full(scale.size, zp[0], np.int64)
    lo, hi = _ZERO_POINT_RANGE.get(dtype, _INT32_RANGE)
    if np.any(zp < lo) or np.any(zp > hi):
        raise ModelError(f"tensor '{name}' ({dtype}) has a zero point outside [{lo}, {hi}]")
    # Real converter output carries zero and even negative scales on constant weights and
    # biases (TFLite folds them into the multipliers); activations need positive ones.
    if not np.all(np.isfinite(scale)) or (not constant and np.any(scale <= 0)):
        raise ModelError(f"tensor '{name}' has a quantisation scale that is not a positive number")
    axis = q.QuantizedDimension()
    if len(shape) == 1 and shape[0] == scale.size:
        axis = 0  # TFLM's person detector names axis 3 on its 1-D biases; TFLM accepts it
    if scale.size > 1 and not (0 <= axis < len(shape) and shape[axis] == scale.size):
        raise ModelError(f"tensor '{name}' has {scale.size} per-channel scales along axis {axis}, "
                         f"which does not match its shape {list(shape)}")
    return Quant(scale=scale, zero_point=zp, axis=axis)


def read_model(path: str | Path) -> Graph:
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if path.is_dir():
        raise ModelError(f"expected a .tflite file, got a directory: {path}")
    return parse_model(path.read_bytes(), name=path.stem)


def parse_model(buf: bytes, name: str = "model") -> Graph:
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ModelError("not a TFLite model: the file does not carry the 'TFL3' flatbuffer identifier")
    try:
        return _parse(buf, name)
    except ModelError:
        raise
    except Exception as exc:  # the flatbuffer accessors fail on corrupt offsets in many ways
        raise ModelError(f"corrupt TFLite model: the flatbuffer cannot be read ({type(exc).__name__}: {exc})") from None


def _parse(buf: bytes, name: str) -> Graph:
    model = tflite.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() < 1:
        raise ModelError("the model has no subgraph")
    sg = model.Subgraphs(0)
    num_buffers = model.BuffersLength()
    if sg.OperatorsLength() > MAX_OPERATORS:
        raise ModelError(f"the model has {sg.OperatorsLength():,} operators, more than any microcontroller "
                         f"model ({MAX_OPERATORS:,} is our limit)")

    tensors: list[Tensor] = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        tname = _printable(t.Name() or b"") or f"tensor_{i}"
        ttype = _TYPE_NAMES.get(t.Type())
        if ttype is None:
            raise ModelError(f"tensor '{tname}' has an unknown type code {t.Type()}")
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        if any(d < 0 for d in shape):
            raise ModelError(f"tensor '{tname}' has a negative dimension {list(shape)}")
        # Keras leaves the batch dimension open (-1) in the signature and fixes it in
        # `shape`; any other open dimension is a truly dynamic shape.
        signature = [int(d) for d in t.ShapeSignatureAsNumpy()] if t.ShapeSignatureLength() else []
        if any(d < 0 for d in signature[1:]):
            raise ModelError(f"tensor '{tname}' has a dynamic shape {signature}; "
                             "only static shapes can be compiled (fix the batch size when converting)")
        size = int(np.prod(shape, dtype=object)) if shape else 1
        if size * DTYPE_BYTES.get(ttype, 1) >= MAX_TENSOR_BYTES:
            raise ModelError(f"tensor '{tname}' of shape {list(shape)} needs more than 2 GiB")
        data = None
        bidx = t.Buffer()
        if bidx >= num_buffers:
            raise ModelError(f"tensor '{tname}' refers to buffer {bidx}, but the model has {num_buffers}")
        if bidx > 0:
            b = model.Buffers(bidx)
            raw = None
            if b.DataLength() > 0:
                raw = b.DataAsNumpy().tobytes()
            elif b.Offset() > 1:
                start, length = b.Offset(), b.Size()
                if start + length > len(buf):
                    raise ModelError(f"tensor '{tname}': its buffer lies outside the file")
                raw = buf[start:start + length]
            if raw is not None:
                if ttype not in _NUMPY_TYPES:
                    raise ModelError(f"tensor '{tname}' holds constant data of unsupported type {ttype}")
                expected = size * DTYPE_BYTES[ttype]
                if len(raw) != expected:
                    raise ModelError(f"tensor '{tname}' of shape {list(shape)} ({ttype}) needs {expected} bytes "
                                     f"but its buffer holds {len(raw)}")
                data = np.frombuffer(raw, dtype=_NUMPY_TYPES[ttype]).reshape(shape).copy()
        if data is None and size == 0:
            raise ModelError(f"tensor '{tname}' of shape {list(shape)} is empty; "
                             "only activations with at least one element can be compiled")
        quant = _read_quant(t, tname, ttype, shape, constant=data is not None)
        tensors.append(Tensor(name=tname, shape=shape, dtype=ttype, quant=quant, data=data))

    def tensor_at(idx: int, where: str) -> Tensor | None:
        if idx == -1:
            return None
        if not 0 <= idx < len(tensors):
            raise ModelError(f"{where} refers to tensor {idx}, but the subgraph has {len(tensors)} tensors")
        return tensors[idx]

    operators: list[Operator] = []
    num_codes = model.OperatorCodesLength()
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        if op.OpcodeIndex() >= num_codes:
            raise ModelError(f"operator #{i} uses opcode {op.OpcodeIndex()}, but the model defines {num_codes}")
        code = model.OperatorCodes(op.OpcodeIndex())
        op_type = _op_name(code)
        where = f"operator #{i} ({op_type})"
        ins = [tensor_at(int(x), where) for x in (op.InputsAsNumpy() if op.InputsLength() else [])]
        outs = [tensor_at(int(x), where) for x in (op.OutputsAsNumpy() if op.OutputsLength() else [])]
        if any(o is None for o in outs):
            raise ModelError(f"{where} has an omitted output")
        operators.append(Operator(type=op_type, inputs=ins, outputs=outs, options=_read_options(op),
                                  version=code.Version(), index=i))

    inputs = [tensor_at(int(x), "the subgraph's inputs") for x in (sg.InputsAsNumpy() if sg.InputsLength() else [])]
    outputs = [tensor_at(int(x), "the subgraph's outputs") for x in (sg.OutputsAsNumpy() if sg.OutputsLength() else [])]
    if not inputs or not outputs or None in inputs or None in outputs:
        raise ModelError("the model declares no inputs or no outputs")
    graph = Graph(tensors=tensors, operators=operators, inputs=inputs, outputs=outputs, name=name)
    _check_topology(graph)
    return graph


def _check_topology(graph: Graph) -> None:
    """Every operator input must exist before the operator runs: no cycles, no dangling reads."""
    model_inputs = {id(t) for t in graph.inputs}
    available = model_inputs | {id(t) for t in graph.tensors if t.is_constant}
    produced_by: dict[int, Operator] = {}
    for op in graph.operators:
        for t in op.outputs:
            if id(t) in produced_by or id(t) in model_inputs:
                raise ModelError(f"tensor '{t.name}' is written by more than one operator")
            if t.is_constant:
                raise ModelError(f"{op.describe()} writes tensor '{t.name}', which holds constant data")
            produced_by[id(t)] = op
    for op in graph.operators:
        for t in op.inputs:
            if t is not None and id(t) not in available:
                if id(t) in produced_by:
                    raise ModelError(f"{op.describe()} reads tensor '{t.name}' before it is computed "
                                     "(operators out of order or a cycle in the graph)")
                raise ModelError(f"{op.describe()} reads tensor '{t.name}', which no operator computes "
                                 "and which is neither a model input nor a constant")
        available.update(id(t) for t in op.outputs)
    for t in graph.outputs:
        if id(t) not in available:
            raise ModelError(f"model output '{t.name}' is never computed")
