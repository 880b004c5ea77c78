"""TFLite's reference kernels: the judge of every output byte.

For models wrapped in float QUANTIZE/DEQUANTIZE, the generated code's inputs and
outputs are the int8 tensors inside the wrappers; the reference run keeps all
tensors so those int8 values can be read back.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType


def _interpreter(model: bytes, resolver) -> Interpreter:
    it = Interpreter(model_content=model, experimental_op_resolver_type=resolver,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    return it


def reference_interpreter(model: bytes) -> Interpreter:
    try:
        return _interpreter(model, OpResolverType.BUILTIN_REF)
    except (RuntimeError, ValueError):
        # The reference resolver lacks some operators and versions (ELU, TILE v3).
        return _interpreter(model, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


FLOAT_TAIL_OPS = ("LOG_SOFTMAX", "SOFTMAX", "LOGISTIC", "RESHAPE", "SQUEEZE")


def _float_wrapped_io(it: Interpreter):
    """Map the model's float inputs/outputs to the int8 tensors inside QUANTIZE/DEQUANTIZE
    (through float-only tail operators after the last DEQUANTIZE)."""
    ops = it._get_ops_details()
    producer = {int(o): op for op in ops for o in op["outputs"]}
    ins, outs = {}, {}
    for op in ops:
        if op["op_name"] == "QUANTIZE":
            ins[int(op["inputs"][0])] = int(op["outputs"][0])
    for d in it.get_output_details():
        op = producer.get(d["index"])
        while op is not None and op["op_name"] in FLOAT_TAIL_OPS:
            op = producer.get(int(op["inputs"][0]))
        if op is not None and op["op_name"] == "DEQUANTIZE":
            outs[d["index"]] = int(op["inputs"][0])
    return ins, outs


def run_reference(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run with int8 inputs (the tensors te_input() exposes); return te_output() tensors."""
    it = reference_interpreter(model)
    q_in, dq_out = _float_wrapped_io(it)
    details = {d["index"]: d for d in it.get_tensor_details()}
    for d, x in zip(it.get_input_details(), inputs):
        if d["dtype"] == np.float32:
            inner = details[q_in[d["index"]]]
            scale, zp = inner["quantization"]
            # Dequantised values quantise back to exactly x.
            it.set_tensor(d["index"], ((x.astype(np.float32) - zp) * scale).reshape(d["shape"]))
        else:
            it.set_tensor(d["index"], x.reshape(d["shape"]))
    it.invoke()
    result = []
    for d in it.get_output_details():
        idx = dq_out.get(d["index"], d["index"]) if d["dtype"] == np.float32 else d["index"]
        result.append(it.get_tensor(idx).copy())
    if q_in:
        for d, x in zip(it.get_input_details(), inputs):
            if d["dtype"] == np.float32:
                got = it.get_tensor(q_in[d["index"]]).reshape(-1)
                assert np.array_equal(got, x.reshape(-1)), "float wrapper did not reproduce the int8 input"
    return result
