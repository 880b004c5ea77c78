"""SOFTMAX and LOG_SOFTMAX (int8, over the last axis) -> te_softmax_s8 / te_log_softmax_s8.

The multipliers follow activations.cc's kReference path (what LiteRT's BUILTIN_REF runs):
PreprocessSoftmaxScaling puts beta * input_scale * difference into Q5.26 fixed point, and
CalculateInputRadius bounds the differences whose exp can still count.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import Operator, Tensor
from ..quantization import quantize_multiplier
from .base import KernelCall, LoweringContext, int8_activation, lowers, require

SCALED_DIFF_INTEGER_BITS = 5


def _multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """tflite::QuantizeMultiplierGreaterThanOne. The softmax multiplier may reach 2^31 - 1 and
    so a left shift of 31, one more than requantisation ever needs: quantise real / 2 (the same
    mantissa) and add the bit back to the shift."""
    require(real > 1.0, f"beta * input scale is so small ({real / (1 << 26):g}) that TFLite refuses it")
    multiplier, shift = quantize_multiplier(real / 2.0)
    return multiplier, shift + 1


def softmax_scaling(beta: float, input_scale: float) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling and CalculateInputRadius: (multiplier, left shift, diff_min)."""
    real = min(beta * input_scale * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)), float((1 << 31) - 1))
    multiplier, left_shift = _multiplier_greater_than_one(real)
    radius = math.floor(((1 << SCALED_DIFF_INTEGER_BITS) - 1) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS))
                        / float(1 << left_shift))
    return multiplier, left_shift, -radius


def _rows(op: Operator) -> tuple[Tensor, Tensor, int, int]:
    require(len(op.inputs) == 1 and op.inputs[0] is not None, "needs one input")
    x = int8_activation(op.inputs[0], "input")
    y = op.outputs[0]
    require(y.dtype == "int8", f"output '{y.name}' is {y.dtype}; only int8 output is supported")
    int8_activation(y, "output")
    require(len(x.shape) >= 1 and tuple(x.shape) == tuple(y.shape),
            f"input shape {list(x.shape)} and output shape {list(y.shape)} must be equal and of rank >= 1")
    depth = int(x.shape[-1])
    require(depth > 0, "the last axis is empty")
    return x, y, x.size // depth, depth


@lowers("SOFTMAX")
def lower_softmax(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x, y, rows, depth = _rows(op)
    # SoftmaxPrepare: int8 output must be quantised with zero point -128 and scale 1/256 (+-0.1%).
    require(y.quant.zp == -128, f"output zero point is {y.quant.zp}; TFLite's int8 SOFTMAX requires -128")
    require(abs(np.float32(y.quant.s) - np.float32(1 / 256)) <= np.float32(0.001 / 256),
            f"output scale is {y.quant.s:g}; TFLite's int8 SOFTMAX requires 1/256")
    beta = float(np.float32(op.options.get("beta", 0.0)))  # the schema default, as TFLite reads it
    multiplier, left_shift, diff_min = softmax_scaling(beta, x.quant.s)
    params = dict(rows=rows, depth=depth, input_multiplier=multiplier, input_left_shift=left_shift,
                  diff_min=diff_min)
    return KernelCall(kernel="te_softmax_s8", params_type="te_softmax_params", params=params,
                      args=[x, y], inputs=[x], outputs=[y], macs=x.size)


@lowers("LOG_SOFTMAX")
def lower_log_softmax(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x, y, rows, depth = _rows(op)
    require(depth < 4096, f"rows of {depth} values; TFLite's int8 LOG_SOFTMAX sums exps in Q12, "
                          "which overflows at 4096")
    # LogSoftmaxPrepare: output scale exactly 16/256, zero point 127; beta is always 1.
    require(y.quant.zp == 127, f"output zero point is {y.quant.zp}; TFLite's int8 LOG_SOFTMAX requires 127")
    require(y.quant.s == 16.0 / 256, f"output scale is {y.quant.s:g}; TFLite's int8 LOG_SOFTMAX requires 16/256")
    multiplier, left_shift, diff_min = softmax_scaling(1.0, x.quant.s)
    # PreprocessLogSoftmaxScalingExp: the inverse of the input scaling, as a multiplier below one.
    reverse = float(1 << (31 - left_shift)) / float(multiplier)
    require(reverse < 1.0, f"input scale {x.quant.s:g} is too small for TFLite's int8 LOG_SOFTMAX")
    reverse_multiplier, reverse_shift = quantize_multiplier(reverse)
    params = dict(rows=rows, depth=depth, input_multiplier=multiplier, input_left_shift=left_shift,
                  reverse_multiplier=reverse_multiplier, reverse_shift=reverse_shift, diff_min=diff_min)
    return KernelCall(kernel="te_log_softmax_s8", params_type="te_log_softmax_params", params=params,
                      args=[x, y], inputs=[x], outputs=[y], macs=x.size)
