"""AVERAGE_POOL_2D and MAX_POOL_2D -> te_avg_pool_s8 / te_max_pool_s8."""

from __future__ import annotations

from ..ir import Operator
from ..memory.overlap import window_kernel_gap
from ..quantization import activation_range
from .base import KernelCall, LoweringContext, int8_activation, lowers, require
from .conv import SAME, expected_out_size, padding_before


@lowers("AVERAGE_POOL_2D", "MAX_POOL_2D")
def lower_pool(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    require(len(x.shape) == 4 and len(y.shape) == 4, "only 4-D NHWC tensors are supported")
    require(x.quant.zp == y.quant.zp and x.quant.s == y.quant.s,
            "pooling needs the same quantisation on input and output")
    n, in_h, in_w, c = x.shape
    out_n, out_h, out_w, out_c = y.shape
    require((out_n, out_c) == (n, c), f"output batch and channels {out_n}, {out_c} differ from the input's {n}, {c}")
    o = op.options
    k_h, k_w = o.get("filter_height", 1), o.get("filter_width", 1)
    s_h, s_w = o.get("stride_h", 1), o.get("stride_w", 1)
    padding = o.get("padding", SAME)
    require(expected_out_size(padding, in_h, s_h, 1, k_h) == out_h
            and expected_out_size(padding, in_w, s_w, 1, k_w) == out_w,
            "output size does not match the pooling geometry")
    act_min, act_max = activation_range(o.get("fused_activation_function", 0), y.quant.s, y.quant.zp)
    pad_top = padding_before(padding, in_h, out_h, s_h, 1, k_h)
    pad_left = padding_before(padding, in_w, out_w, s_w, 1, k_w)
    params = dict(batches=n, in_h=in_h, in_w=in_w, channels=c, out_h=out_h, out_w=out_w,
                  k_h=k_h, k_w=k_w, stride_h=s_h, stride_w=s_w, pad_top=pad_top, pad_left=pad_left,
                  act_min=act_min, act_max=act_max)
    kernel = "te_avg_pool_s8" if op.type == "AVERAGE_POOL_2D" else "te_max_pool_s8"
    overlap = window_kernel_gap(n, in_h, in_w, c, out_h, out_w, c, s_h, s_w, pad_top, pad_left)
    return KernelCall(kernel=kernel, params_type="te_pool_params", params=params, args=[x, y],
                      inputs=[x], outputs=[y], macs=n * out_h * out_w * c * k_h * k_w,
                      overlaps=[(x, overlap)])
