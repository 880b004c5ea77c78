"""Evaluate at generation time the operators that only compute static shapes and
constants (SHAPE, and shape arithmetic on constants), then drop dead operators."""

from __future__ import annotations

import numpy as np

from ..errors import ModelError
from ..ir import Graph, Operator, Tensor


def _fold(op: Operator) -> np.ndarray | None:
    ins = op.inputs
    if not ins or ins[0] is None:
        return None
    if op.type == "SHAPE":
        return np.array(ins[0].shape, dtype=np.int32)
    if not all(t is not None and t.is_constant for t in ins):
        return None
    data = [t.data for t in ins]
    out = op.outputs[0]
    if op.type in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
        return data[0].reshape(out.shape)
    if op.type == "CAST" and out.dtype in ("int32", "int64"):
        return data[0].astype(out.dtype)
    if op.type == "TRANSPOSE":
        return np.transpose(data[0], data[1].reshape(-1))
    if op.type == "PACK":
        return np.stack(data, axis=op.options.get("axis", 0))
    if op.type == "CONCATENATION" and out.dtype in ("int32", "int64"):
        return np.concatenate(data, axis=op.options.get("axis", 0))
    if op.type == "GATHER" and out.dtype in ("int32", "int64"):
        params, indices, axis = data[0], data[1], op.options.get("axis", 0)
        # Sized before np.take builds it: a few bytes of indices can ask for gigabytes.
        if indices.size * (params.size // max(params.shape[axis], 1)) != out.size:
            return None
        return np.take(params, indices, axis=axis)
    if op.type == "STRIDED_SLICE" and out.dtype in ("int32", "int64") and data[0].ndim == 1 \
            and not any(op.options.get(k, 0) for k in ("ellipsis_mask", "new_axis_mask")):
        begin, end, stride = (int(d[0]) for d in data[1:4])
        if op.options.get("begin_mask", 0) & 1:
            begin = None
        if op.options.get("end_mask", 0) & 1:
            end = None
        if op.options.get("shrink_axis_mask", 0) & 1:
            return np.asarray(data[0][begin])
        return data[0][begin:end:stride]
    return None


def fold_constants(graph: Graph) -> None:
    kept = []
    for op in graph.operators:
        try:
            value = _fold(op) if len(op.outputs) == 1 else None
            out = op.outputs[0] if op.outputs else None
            if value is not None and int(np.prod(out.shape, dtype=np.int64)) == value.size:
                out.data = np.asarray(value).reshape(out.shape).astype(out.dtype if out.dtype != "bool" else "u1")
                continue
        except (ValueError, IndexError, TypeError) as exc:
            # The operands come from the file: numpy refusing them means the model is malformed.
            raise ModelError(f"{op.describe()} on constants cannot be evaluated: {exc}") from None
        kept.append(op)
    graph.operators = kept
    remove_dead_operators(graph)


def remove_dead_operators(graph: Graph) -> None:
    """Drop operators none of whose outputs reach a model output."""
    needed = {id(t) for t in graph.outputs}
    live = []
    for op in reversed(graph.operators):
        if any(id(t) in needed for t in op.outputs):
            live.append(op)
            needed.update(id(t) for t in op.inputs if t is not None)
    graph.operators = list(reversed(live))


def used_tensors(graph: Graph) -> list[Tensor]:
    seen, result = set(), []
    for op in graph.operators:
        for t in [*op.inputs, *op.outputs]:
            if t is not None and id(t) not in seen:
                seen.add(id(t))
                result.append(t)
    return result
