"""FULLY_CONNECTED -> te_fully_connected_s8, the input offset folded into the bias."""

from __future__ import annotations

import numpy as np

from ..ir import Operator
from ..memory.overlap import rows_kernel_gap
from ..quantization import activation_range, quantize_multipliers
from .base import KernelCall, LoweringContext, int8_activation, lowers, require
from .conv import check_bias, folded_bias


def fc_filter_layout(weights: np.ndarray) -> np.ndarray:
    """The filter in the order te_fully_connected_s8 reads it (fully_connected_s8.c): output rows
    in groups of 4 (the last group the rows left), each row zero-padded to a multiple of 4 bytes
    (at most 3 bytes a row), and within a group, for each word of 4 input bytes, the group's
    rows' words side by side."""
    rows = np.pad(weights, ((0, 0), (0, -weights.shape[1] % 4)))
    words = rows.shape[1] // 4
    groups = [rows[o:o + 4].reshape(-1, words, 4).transpose(1, 0, 2).reshape(-1)
              for o in range(0, rows.shape[0], 4)]
    return np.concatenate(groups)


@lowers("FULLY_CONNECTED")
def lower_fully_connected(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    require(len(op.inputs) >= 2 and op.inputs[1] is not None and op.inputs[1].is_constant,
            "weights must be a constant tensor")
    w = op.inputs[1]
    require(w.dtype == "int8" and len(w.shape) == 2, f"weights '{w.name}' must be a 2-D int8 matrix")
    require(op.options.get("weights_format", 0) == 0, "shuffled weight formats are not supported")
    out_features, in_features = w.shape
    require(x.size % in_features == 0, f"input of {x.size} values is not a multiple of {in_features}")
    batches = x.size // in_features
    require(y.size == batches * out_features, "output size does not match batches x units")
    require(w.quant is not None, f"weights '{w.name}' are not quantised")
    per_channel = w.quant.per_channel
    scales = w.quant.scale.astype(np.float64)
    require(not per_channel or (scales.size == out_features and w.quant.axis == 0),
            "per-channel weights must have one scale per output unit")
    zp = int(w.quant.zero_point[0])
    require(not per_channel or np.all(w.quant.zero_point == 0), "per-channel weights need zero zero points")
    if per_channel:
        # PopulateConvolutionQuantizationParams: in double throughout.
        real = float(np.float32(x.quant.s)) * scales / float(np.float32(y.quant.s))
    else:
        # GetQuantizedConvolutionMultipler multiplies the two scales in float first.
        product = np.float32(x.quant.s) * np.float32(scales[0])
        real = np.array([float(product) / float(np.float32(y.quant.s))])
    mult, shift = quantize_multipliers(real)
    act_min, act_max = activation_range(op.options.get("fused_activation_function", 0), y.quant.s, y.quant.zp)
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    check_bias(bias, out_features)
    params = dict(
        batches=batches, in_features=in_features, out_features=out_features,
        filter_offset=-zp, output_offset=y.quant.zp,
        act_min=act_min, act_max=act_max, per_channel=int(per_channel),
        # Word-aligned: the DSP loop loads 4 rows' words with one LDM, which faults unaligned.
        filter=ctx.const(fc_filter_layout(w.data), "int8_t", f"{name}_weights", align=4),
        # TFLite's bias plus input_offset * sum_i (w[o][i] + filter_offset).
        bias=folded_bias(ctx, name, w, bias, x.quant.zp, weight_zp=zp),
        multiplier=ctx.const(mult, "int32_t", f"{name}_mult"),
        shift=ctx.const(shift, "int8_t", f"{name}_shift"),
    )
    return KernelCall(kernel="te_fully_connected_s8", params_type="te_fc_params", params=params,
                      args=[x, y], inputs=[x], outputs=[y], macs=batches * in_features * out_features,
                      overlaps=[(x, rows_kernel_gap(batches, in_features, out_features))])
