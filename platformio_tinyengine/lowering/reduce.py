"""MEAN -> te_mean_s8, choosing the arithmetic TFLite's reference kernel uses for the case."""

from __future__ import annotations

import numpy as np

from ..ir import Operator
from ..quantization import quantize_multiplier
from .base import KernelCall, LoweringContext, int8_activation, lowers, require, static_input
from .elementwise import MAX_DIMS, _pad

MEAN_INTEGER, MEAN_SAME_SCALE, MEAN_FLOAT = 0, 1, 2


@lowers("MEAN")
def lower_mean(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    ndim = len(x.shape)
    require(1 <= ndim <= MAX_DIMS, f"rank {ndim} is not supported")
    raw_axes = [int(a) for a in np.asarray(static_input(op, 1, "axes")).reshape(-1)]
    require(all(-ndim <= a < ndim for a in raw_axes), "axis out of range")
    axes = sorted({a % ndim for a in raw_axes})
    kept = [d for d in range(ndim) if d not in axes]
    strides = [int(np.prod(x.shape[d + 1:], dtype=np.int64)) for d in range(ndim)]
    order = kept + axes
    count = int(np.prod([x.shape[d] for d in axes], dtype=np.int64))
    require(count > 0, "MEAN over an empty axis")
    params = dict(ndim=ndim, shape=_pad([x.shape[d] for d in order], 1), in_stride=_pad([strides[d] for d in order]),
                  count=count, mode=MEAN_FLOAT, input_zero_point=x.quant.zp, output_zero_point=y.quant.zp,
                  multiplier=0, shift=0, scale="0.0f", bias="0.0f")
    keep_dims = bool(op.options.get("keep_dims", False))
    if keep_dims and ndim == 4 and len(raw_axes) == 2 and axes == [1, 2]:
        params["mode"] = MEAN_INTEGER
        params["multiplier"], params["shift"] = quantize_multiplier(
            float(np.float32(x.quant.s)) / float(np.float32(y.quant.s)))
    elif x.quant.zp == y.quant.zp and x.quant.s == y.quant.s:
        params["mode"] = MEAN_SAME_SCALE
    else:
        # reference_ops::QuantizedMeanOrSum computes these in float.
        scale = np.float32(x.quant.s) / np.float32(y.quant.s)
        bias = np.float32(-x.quant.zp) * scale + np.float32(0.5)
        params["scale"] = float_literal(scale)
        params["bias"] = float_literal(bias)
    return KernelCall(kernel="te_mean_s8", params_type="te_mean_params", params=params,
                      args=[x, y], inputs=[x], outputs=[y], macs=x.size)


def float_literal(value: np.float32) -> str:
    """A C float literal that reads back as exactly this float32."""
    return f"{float(value).hex()}f" if value != 0 else "0.0f"
