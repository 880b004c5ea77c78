"""MEAN and SUM -> te_mean_s8 (TFLite's integer QuantizedMeanOrSum)."""

from __future__ import annotations

import numpy as np

from ..ir import Operator, Tensor
from ..quantization import quantize_multiplier
from .base import KernelCall, LoweringContext, int8_activation, lowers, require, static_input
from .elementwise import MAX_DIMS, _pad


def scale_multiplier(input_scale: float, output_scale: float) -> tuple[int, int]:
    """PrepareMeanOrSum's multiplier: input scale / output scale, in double from the float32 scales."""
    return quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """QuantizedMeanOrSum's multiplier: input/output scale, then 1/count folded in by shifting
    the multiplier left as far as it safely goes and dividing."""
    multiplier, shift = scale_multiplier(input_scale, output_scale)
    extra = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << extra) // count, shift - extra


def reduction_walk(op: Operator, x: Tensor) -> dict:
    """The walk over x that visits the kept dims first and the reduced ones last, so each
    output reduces `count` consecutive elements (the fields te_mean_params and
    te_reduce_params share)."""
    ndim = len(x.shape)
    require(1 <= ndim <= MAX_DIMS, f"rank {ndim} is not supported")
    raw_axes = [int(a) for a in np.asarray(static_input(op, 1, "axes")).reshape(-1)]
    require(all(-ndim <= a < ndim for a in raw_axes), "axis out of range")
    axes = sorted({a % ndim for a in raw_axes})
    kept = [d for d in range(ndim) if d not in axes]
    strides = [int(np.prod(x.shape[d + 1:], dtype=np.int64)) for d in range(ndim)]
    order = kept + axes
    count = int(np.prod([x.shape[d] for d in axes], dtype=np.int64))
    require(count > 0, f"{op.type} over an empty axis")
    y = op.outputs[0]
    require(y.size * count == x.size, f"output shape {list(y.shape)} does not match the reduction")
    return dict(ndim=ndim, shape=_pad([x.shape[d] for d in order], 1), in_stride=_pad([strides[d] for d in order]),
                count=count)


@lowers("MEAN", "SUM")
def lower_mean_or_sum(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    params = reduction_walk(op, x)
    # SUM is the same integer path with the plain scale ratio (compute_sum: no 1/count).
    if op.type == "SUM":
        multiplier, shift = scale_multiplier(x.quant.s, y.quant.s)
    else:
        multiplier, shift = mean_multiplier(x.quant.s, y.quant.s, params["count"])
    params.update(input_zero_point=x.quant.zp, output_zero_point=y.quant.zp, multiplier=multiplier, shift=shift)
    return KernelCall(kernel="te_mean_s8", params_type="te_mean_params", params=params,
                      args=[x, y], inputs=[x], outputs=[y], macs=x.size)
