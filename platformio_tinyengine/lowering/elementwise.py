"""ADD, SUB and MUL with broadcasting -> te_add_s8 / te_mul_s8."""

from __future__ import annotations

import numpy as np

from ..ir import Operator, Tensor
from ..memory.overlap import elementwise_gap
from ..quantization import activation_range, quantize_multiplier
from .base import KernelCall, LoweringContext, lowers, require

MAX_DIMS = 6
# te_add_s8's table of one input's rescaled terms (add_s8.c): 256 int32 in an arena scratch,
# for layers of at least this many elements (fewer do not repay building it).
ADD_TABLE_BYTES = 256 * 4
ADD_TABLE_MIN_ELEMENTS = 320


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


def _is_half(multiplier: int, shift: int) -> bool:
    return multiplier == 1 << 30 and shift == 0


def _rescales(multiplier: int, shift: int) -> bool:
    return multiplier >= 1 << 30 and -23 <= shift <= -1


def add_table_bytes(p: dict) -> int:
    """te_add_s8_get_buffer_size: the table where te_add_s8's common case (contiguous inputs,
    one halved, the other and the output rescaled in add_rescale's range) has at least
    ADD_TABLE_MIN_ELEMENTS elements and an input to tabulate."""
    if p["ndim"] != 1 or p["stride1"][0] != 1 or p["stride2"][0] != 1 or p["left_shift"] != 20 \
            or not _rescales(p["output_multiplier"], p["output_shift"]) or p["shape"][0] < ADD_TABLE_MIN_ELEMENTS:
        return 0
    first = (p["input1_multiplier"], p["input1_shift"])
    second = (p["input2_multiplier"], p["input2_shift"])
    if _is_half(*first):
        return ADD_TABLE_BYTES if _rescales(*second) and not _is_half(*second) else 0
    return ADD_TABLE_BYTES if _is_half(*second) and _rescales(*first) else 0


def binary_call(kernel: str, params: dict, args: list, **fields) -> KernelCall:
    """The call of te_add_s8 or te_mul_s8. te_add_s8 takes its table's scratch last (the planner
    places it, the emitter passes it), NULL where it has none; the table only saves time, so
    the planner drops it where it would raise the arena (scratch_optional)."""
    scratch = add_table_bytes(params) if kernel == "te_add_s8" else 0
    tail = ["NULL"] if kernel == "te_add_s8" and not scratch else []
    return KernelCall(kernel=kernel, params_type="te_binary_params", params=params, args=[*args, *tail],
                      scratch_bytes=scratch, scratch_optional=bool(scratch), **fields)


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
    return binary_call(kernel, params, [_operand(ctx, a, f"{name}_in1"), _operand(ctx, b, f"{name}_in2"), y],
                       inputs=[t for t in (a, b) if not t.is_constant], outputs=[y], macs=y.size,
                       overlaps=[(t, elementwise_gap()) for t in (a, b)
                                 if not t.is_constant and t.size == y.size and t.shape[-len(y.shape):] == y.shape])
