"""ADD, SUB and MUL with broadcasting -> te_add_s8 / te_mul_s8."""

from __future__ import annotations

import numpy as np

from ..ir import Operator, Tensor
from ..memory.overlap import elementwise_gap
from ..quantization import activation_range, quantize_multiplier
from .base import KernelCall, LoweringContext, lowers, require

MAX_DIMS = 6


def broadcast_strides(out_shape, *in_shapes):
    """Merged output shape and, per input, element strides over it (0 where it broadcasts)."""
    ndim = len(out_shape)
    shape = list(out_shape)
    strides = []
    for s in in_shapes:
        s = (1,) * (ndim - len(s)) + tuple(s)
        st, acc = [0] * ndim, 1
        for d in range(ndim - 1, -1, -1):
            require(s[d] in (1, shape[d]), f"shape {list(s)} does not broadcast to {list(out_shape)}")
            st[d] = acc if s[d] == shape[d] and s[d] != 1 else 0
            acc *= s[d]
        strides.append(st)
    # Drop unit dims, then merge neighbours that are contiguous for every input.
    keep = [d for d in range(ndim) if shape[d] != 1]
    shape = [shape[d] for d in keep] or [1]
    strides = [[st[d] for d in keep] or [0] for st in strides]
    d = len(shape) - 2
    while d >= 0:
        if all(st[d] == st[d + 1] * shape[d + 1] for st in strides):
            shape[d:d + 2] = [shape[d] * shape[d + 1]]
            for st in strides:
                st[d:d + 2] = [st[d + 1]]
        d -= 1
    require(len(shape) <= MAX_DIMS, f"broadcasting over {len(shape)} dimensions is not supported")
    return shape, strides


def _pad(values, fill=0):
    return list(values) + [fill] * (MAX_DIMS - len(values))


def _binary_operands(op: Operator):
    require(len(op.inputs) == 2 and None not in op.inputs, "needs two inputs")
    a, b = op.inputs
    y = op.outputs[0]
    for t, role in ((a, "first input"), (b, "second input"), (y, "output")):
        require(t.dtype == "int8", f"{role} '{t.name}' is {t.dtype}; only int8 is supported")
        require(t.quant is not None and not t.quant.per_channel, f"{role} '{t.name}' needs per-tensor quantisation")
    return a, b, y


def _operand(ctx: LoweringContext, t: Tensor, name: str):
    return ctx.tensor_const(t, name) if t.is_constant else t


@lowers("ADD", "SUB", "MUL")
def lower_binary(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    a, b, y = _binary_operands(op)
    require(len(a.shape) <= len(y.shape) and len(b.shape) <= len(y.shape)
            and tuple(np.broadcast_shapes(a.shape, b.shape)) == tuple(y.shape),
            f"output shape {list(y.shape)} is not the broadcast of {list(a.shape)} and {list(b.shape)}")
    shape, (st1, st2) = broadcast_strides(y.shape, a.shape, b.shape)
    act_min, act_max = activation_range(op.options.get("fused_activation_function", 0), y.quant.s, y.quant.zp)
    params = dict(ndim=len(shape), shape=_pad(shape, 1), stride1=_pad(st1), stride2=_pad(st2),
                  input1_offset=-a.quant.zp, input2_offset=-b.quant.zp, output_offset=y.quant.zp,
                  left_shift=0, input1_multiplier=0, input1_shift=0, input2_multiplier=0, input2_shift=0,
                  output_multiplier=0, output_shift=0, act_min=act_min, act_max=act_max)
    s1, s2, so = (np.float32(t.quant.s) for t in (a, b, y))
    if op.type == "MUL":
        # mul.cc multiplies the scales in float before widening to double.
        params["output_multiplier"], params["output_shift"] = quantize_multiplier(float(s1 * s2 / so))
        kernel = "te_mul_s8"
    else:
        # add.cc / sub.cc: both inputs brought to twice the larger scale with 20 bits of headroom.
        twice_max = 2.0 * float(max(s1, s2))
        params["left_shift"] = 20
        m1, sh1 = quantize_multiplier(float(s1) / twice_max)
        m2, sh2 = quantize_multiplier(float(s2) / twice_max)
        if op.type == "SUB":
            m2 = -m2
        params.update(input1_multiplier=m1, input1_shift=sh1, input2_multiplier=m2, input2_shift=sh2)
        params["output_multiplier"], params["output_shift"] = quantize_multiplier(
            twice_max / (float(1 << 20) * float(so)))
        kernel = "te_add_s8"
    return KernelCall(kernel=kernel, params_type="te_binary_params", params=params,
                      args=[_operand(ctx, a, f"{name}_in1"), _operand(ctx, b, f"{name}_in2"), y],
                      inputs=[t for t in (a, b) if not t.is_constant], outputs=[y], macs=y.size,
                      overlaps=[(t, elementwise_gap()) for t in (a, b)
                                if not t.is_constant and t.size == y.size and t.shape[-len(y.shape):] == y.shape])
