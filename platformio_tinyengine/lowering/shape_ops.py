"""Operators that move bytes without arithmetic: reshapes, PAD, CONCATENATION and
RESIZE_NEAREST_NEIGHBOR (TRANSPOSE and the other affine views: data_movement.py)."""

from __future__ import annotations

import numpy as np

from ..ir import Operator
from .base import Alias, KernelCall, LoweringContext, int8_activation, lowers, require, static_input
from .elementwise import MAX_DIMS, _pad


def _same_quant(a, b) -> bool:
    return a.quant is not None and b.quant is not None and a.quant.zp == b.quant.zp and a.quant.s == b.quant.s


@lowers("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def lower_reshape(op: Operator, ctx: LoweringContext, name: str) -> Alias:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    require(x.size == y.size, f"reshape from {list(x.shape)} to {list(y.shape)} changes the element count")
    # TFLite copies the bytes unchanged even where the output declares other quantisation.
    return Alias(source=x, target=y, op=op)


@lowers("PAD", "PADV2")
def lower_pad(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    pads = np.asarray(static_input(op, 1, "paddings"), dtype=np.int64).reshape(-1, 2)
    require(pads.shape[0] == len(x.shape) and len(x.shape) <= MAX_DIMS, "paddings do not match the input rank")
    require(np.all(pads >= 0), "negative paddings are not supported")
    require(tuple(int(a + b + d) for (a, b), d in zip(pads, x.shape)) == tuple(y.shape),
            "output shape does not match input + paddings")
    value = y.quant.zp
    if op.type == "PADV2" and len(op.inputs) > 2 and op.inputs[2] is not None:
        value = int(np.asarray(static_input(op, 2, "constant value")).reshape(-1)[0])
        require(-128 <= value <= 127, f"padding value {value} is not an int8")
    params = dict(ndim=len(x.shape), in_shape=_pad(x.shape, 1), out_shape=_pad(y.shape, 1),
                  before=_pad(pads[:, 0]), pad_value=value)
    return KernelCall(kernel="te_pad_s8", params_type="te_pad_params", params=params,
                      args=[x, y], inputs=[x], outputs=[y])


@lowers("CONCATENATION")
def lower_concatenation(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    y = int8_activation(op.outputs[0], "output")
    require(op.options.get("fused_activation_function", 0) == 0, "a fused activation on int8 CONCATENATION")
    axis = op.options.get("axis", 0)
    axis = axis + len(y.shape) if axis < 0 else axis
    require(0 <= axis < len(y.shape), "axis out of range")
    operands, inner = [], []
    for i, t in enumerate(op.inputs):
        int8_activation(t, f"input {i}")
        require(_same_quant(t, y), "int8 CONCATENATION needs the same quantisation on inputs and output")
        require(len(t.shape) == len(y.shape) and all(a == b for d, (a, b) in enumerate(zip(t.shape, y.shape))
                                                      if d != axis),
                f"input {i} of shape {list(t.shape)} does not match the output {list(y.shape)} off the axis")
        operands.append(ctx.tensor_const(t, f"{name}_in{i}") if t.is_constant else t)
        inner.append(int(np.prod(t.shape[axis:], dtype=np.int64)))
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    require(sum(inner) * outer == y.size, "inputs do not add up to the output")
    params = dict(num_inputs=len(inner), outer=outer, inner_size=ctx.const(np.array(inner), "int32_t", f"{name}_sizes"))
    return KernelCall(kernel="te_concatenation_s8", params_type="te_concat_params", params=params,
                      args=[operands, y], inputs=[t for t in op.inputs if not t.is_constant], outputs=[y])


def nearest_source_index(out_size: int, in_size: int, align_corners: bool, half_pixel: bool) -> np.ndarray:
    """tflite::reference_ops GetNearestNeighbor, in float32 as TFLite computes it."""
    f32 = np.float32
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    offset = f32(0.5) if half_pixel else f32(0.0)
    result = []
    for i in range(out_size):
        v = (f32(i) + offset) * scale
        if align_corners:
            idx = int(np.copysign(np.floor(np.abs(v) + f32(0.5)), v))
        else:
            idx = int(np.floor(v))
        idx = min(idx, in_size - 1)
        if half_pixel:
            idx = max(idx, 0)
        result.append(idx)
    return np.array(result)


@lowers("RESIZE_NEAREST_NEIGHBOR")
def lower_resize_nearest(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    require(len(x.shape) == 4 and len(y.shape) == 4, "only 4-D NHWC tensors are supported")
    require(_same_quant(x, y), "RESIZE_NEAREST_NEIGHBOR changes the quantisation")
    size = [int(v) for v in np.asarray(static_input(op, 1, "size")).reshape(-1)]
    require(size == list(y.shape[1:3]), "output shape does not match the size operand")
    n, in_h, in_w, c = x.shape
    require((y.shape[0], y.shape[3]) == (n, c), "output batch and channels differ from the input's")
    align = bool(op.options.get("align_corners", False))
    half = bool(op.options.get("half_pixel_centers", False))
    src_y = nearest_source_index(y.shape[1], in_h, align, half)
    src_x = nearest_source_index(y.shape[2], in_w, align, half)
    params = dict(batches=n, in_h=in_h, in_w=in_w, channels=c, out_h=y.shape[1], out_w=y.shape[2],
                  src_y=ctx.const(src_y, "int32_t", f"{name}_src_y"),
                  src_x=ctx.const(src_x, "int32_t", f"{name}_src_x"))
    return KernelCall(kernel="te_resize_nearest_s8", params_type="te_resize_params", params=params,
                      args=[x, y], inputs=[x], outputs=[y])
