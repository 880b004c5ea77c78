"""MAXIMUM, MINIMUM (with broadcasting) and REDUCE_MAX, REDUCE_MIN on raw int8 values.

Comparing the stored bytes orders the real values only when every operand shares one
quantisation. TFLite's reduce.cc refuses anything else for REDUCE_MAX/MIN; its
maximum_minimum.cc compares the bytes regardless, but TFLite's quantisation spec
requires the shared scale and zero point, so both are refused here otherwise.
"""

from __future__ import annotations

import numpy as np

from ..ir import Operator
from .base import KernelCall, LoweringContext, int8_activation, lowers, require
from .elementwise import _binary_operands, _operand, _pad, broadcast_strides
from .reduce import reduction_walk
from .shape_ops import _same_quant


@lowers("MAXIMUM", "MINIMUM")
def lower_maximum_minimum(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    a, b, y = _binary_operands(op)
    require(_same_quant(a, y) and _same_quant(b, y),
            f"int8 {op.type} needs one quantisation on both inputs and the output (TFLite's quantisation spec)")
    require(tuple(np.broadcast_shapes(a.shape, b.shape)) == tuple(y.shape),
            f"output shape {list(y.shape)} is not the broadcast of {list(a.shape)} and {list(b.shape)}")
    shape, (st1, st2) = broadcast_strides(y.shape, a.shape, b.shape)
    params = dict(ndim=len(shape), shape=_pad(shape, 1), stride1=_pad(st1), stride2=_pad(st2))
    return KernelCall(kernel="te_maximum_s8" if op.type == "MAXIMUM" else "te_minimum_s8",
                      params_type="te_minmax_params", params=params,
                      args=[_operand(ctx, a, f"{name}_in1"), _operand(ctx, b, f"{name}_in2"), y],
                      inputs=[t for t in (a, b) if not t.is_constant], outputs=[y], macs=y.size)


@lowers("REDUCE_MAX", "REDUCE_MIN")
def lower_reduce_max_min(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    require(_same_quant(x, y), f"int8 {op.type} needs the input's quantisation on the output (as TFLite does)")
    return KernelCall(kernel="te_reduce_max_s8" if op.type == "REDUCE_MAX" else "te_reduce_min_s8",
                      params_type="te_reduce_params", params=reduction_walk(op, x),
                      args=[x, y], inputs=[x], outputs=[y], macs=x.size)
