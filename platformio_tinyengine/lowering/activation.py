"""Unary activations of one int8 tensor -> te_lut_s8, and PRELU -> te_lut_s8 or te_prelu_s8.

Each output byte depends only on the input byte, so the generator evaluates, for all 256
input bytes, exactly what TFLite's kernel computes for that operator and quantisation
(activations.cc, the path LiteRT's BUILTIN_REF resolver runs), and the kernel is one table
lookup per element:

- LOGISTIC, TANH, ELU, GELU: LUTPopulate, a float32 function of the dequantised input,
  rounded onto the output scale. The functions are libm's float versions (tanhf, expf,
  expm1f, erfcf), called through ctypes, as TFLite calls them through std::.
- RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1: requantise, then clamp (ReluX).
- LEAKY_RELU and PRELU: requantise by one of two multipliers depending on the sign.
- HARD_SWISH: reference_ops::HardSwish's int16 fixed-point arithmetic.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import numpy as np

from ..ir import Operator, Tensor
from ..memory.overlap import elementwise_gap
from ..quantization import (multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot,
                            tflite_round)
from .base import KernelCall, LoweringContext, int8_activation, lowers, require
from .elementwise import _pad, broadcast_strides

INPUTS = range(-128, 128)
f32 = np.float32


def _clamp8(v: int) -> int:
    return max(-128, min(127, v))


def _table(values) -> np.ndarray:
    """Outputs for inputs -128..127, reordered so that the table is indexed by (uint8_t)input."""
    return np.roll(np.asarray(list(values), dtype=np.int8), -128)


@functools.cache
def _libm_float(name: str):
    lib = ctypes.CDLL(ctypes.util.find_library("m") or ctypes.util.find_library("c"))
    fn = getattr(lib, name)
    fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
    return lambda v: f32(fn(float(v)))


def _logistic(v):
    return f32(1) / (f32(1) + _libm_float("expf")(-v))


def _tanh(v):
    return _libm_float("tanhf")(v)


def _elu(v):
    return _libm_float("expm1f")(v) if v < 0 else v


NEG_SQRT1_2 = f32(-0.70710678118654752440)  # static_cast<float>(-M_SQRT1_2)
SQRT_2_OVER_PI = f32(1.12837916709551257390 * 0.70710678118654752440)  # M_2_SQRTPI * M_SQRT1_2


def _gelu(v):
    return f32(0.5) * v * _libm_float("erfcf")(v * NEG_SQRT1_2)


def _gelu_approximate(v):
    inner = SQRT_2_OVER_PI * (v + f32(0.044715) * v * v * v)
    return f32(0.5) * v * (f32(1) + _libm_float("tanhf")(inner))


def lut_populate(x: Tensor, y: Tensor, fn) -> np.ndarray:
    """tflite::LUTPopulate<int8_t>, in float32 arithmetic throughout."""
    in_scale, out_scale = f32(x.quant.s), f32(y.quant.s)
    inverse_scale = f32(1) / out_scale
    out = []
    for q in INPUTS:
        transformed = fn(in_scale * f32(q - x.quant.zp))
        rescaled = f32(tflite_round(float(transformed * inverse_scale)))
        shifted = float(rescaled + f32(y.quant.zp))
        require(np.isfinite(shifted) and -2.0 ** 31 <= shifted < 2.0 ** 31,
                f"output scale {y.quant.s:g} is too small for the function's range (TFLite overflows int32)")
        out.append(_clamp8(int(shifted)))
    return _table(out)


def _requantize_table(x: Tensor, y: Tensor, lo: int, hi: int) -> np.ndarray:
    """ReluX: (input - zp) requantised by input_scale / output_scale, clamped to [lo, hi]."""
    multiplier, shift = quantize_multiplier(float(f32(x.quant.s) / f32(y.quant.s)))
    return _table(max(lo, min(hi, y.quant.zp + multiply_by_quantized_multiplier(q - x.quant.zp, multiplier, shift)))
                  for q in INPUTS)


def _relu_bound(y: Tensor, value: float) -> int:
    return y.quant.zp + tflite_round(float(f32(value) / f32(y.quant.s)))


RELU_RANGES = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0), "RELU_0_TO_1": (0.0, 1.0)}


def relu_table(op_type: str, x: Tensor, y: Tensor) -> np.ndarray:
    low, high = RELU_RANGES[op_type]
    return _requantize_table(x, y, max(-128, _relu_bound(y, low)),
                             127 if high is None else min(127, _relu_bound(y, high)))


def _sign_split_table(x: Tensor, y: Tensor, identity: tuple[int, int], negative) -> np.ndarray:
    """Non-negative (input - zp) requantised by `identity`, negative ones by `negative(value)`."""
    out = []
    for q in INPUTS:
        v = q - x.quant.zp
        r = multiply_by_quantized_multiplier(v, *identity) if v >= 0 else negative(v)
        out.append(_clamp8(y.quant.zp + r))
    return _table(out)


def leaky_relu_table(x: Tensor, y: Tensor, alpha: float) -> np.ndarray:
    """QuantizeLeakyRelu; LeakyReluPrepare forms both multipliers in float32."""
    s_in, s_out = f32(x.quant.s), f32(y.quant.s)
    identity = quantize_multiplier(float(s_in / s_out))
    alpha_multiplier, alpha_shift = quantize_multiplier(float(s_in * f32(alpha) / s_out))

    def negative(v: int) -> int:
        # A negative alpha is applied as the negation of a positive multiplier.
        r = multiply_by_quantized_multiplier(v, abs(alpha_multiplier), alpha_shift)
        return -r if alpha_multiplier < 0 else r

    return _sign_split_table(x, y, identity, negative)


def _prelu_multipliers(x: Tensor, alpha: Tensor, y: Tensor) -> tuple[tuple[int, int], tuple[int, int]]:
    """PreluPrepare: input_scale / output_scale and input_scale * alpha_scale / output_scale (float32)."""
    s_in, s_alpha, s_out = f32(x.quant.s), f32(alpha.quant.s), f32(y.quant.s)
    return quantize_multiplier(float(s_in / s_out)), quantize_multiplier(float(s_in * s_alpha / s_out))


def prelu_table(x: Tensor, alpha: Tensor, y: Tensor, alpha_q: int) -> np.ndarray:
    identity, negative = _prelu_multipliers(x, alpha, y)
    return _sign_split_table(x, y, identity,
                             lambda v: multiply_by_quantized_multiplier(v * (alpha_q - alpha.quant.zp), *negative))


# int16 fixed point of reference_ops::HardSwish.

def _int16(v: int) -> int:
    return (v + 32768) % 65536 - 32768


def _sat16(v: int) -> int:
    return max(-32768, min(32767, v))


def _srdhm16(a: int, b: int) -> int:
    """gemmlowp::SaturatingRoundingDoublingHighMul on int16."""
    if a == b == -32768:
        return 32767
    ab = a * b
    num = ab + ((1 << 14) if ab >= 0 else 1 - (1 << 14))
    return _int16(int(num / (1 << 15)))  # C division truncates toward zero


def _sdhm16(a: int, b: int) -> int:
    """SaturatingDoublingHighMul: like the above but truncating instead of rounding."""
    if a == b == -32768:
        return 32767
    return _int16(int(a * b / (1 << 15)))


def _downscale_to_int16(multiplier: int) -> int:
    """DownScaleInt32ToInt16Multiplier."""
    return 32767 if multiplier >= (1 << 31) - 1 - (1 << 15) else (multiplier + (1 << 15)) >> 16


def hard_swish_table(x: Tensor, y: Tensor) -> np.ndarray:
    hires_input_scale = f32(1.0 / 128.0) * f32(x.quant.s)
    out_multiplier, out_exponent = quantize_multiplier(float(hires_input_scale / f32(y.quant.s)))
    require(out_exponent <= 0, f"output scale {y.quant.s:g} is too small against the input scale "
                               f"{x.quant.s:g} (TFLite's HARD_SWISH needs output_scale >= input_scale / 128)")
    relu_multiplier, relu_exponent = quantize_multiplier(float(hires_input_scale / f32(3.0 / 32768.0)))
    out_m16, relu_m16 = _downscale_to_int16(out_multiplier), _downscale_to_int16(relu_multiplier)
    out = []
    for q in INPUTS:
        hires = _int16((q - x.quant.zp) * 128)
        preshift_output = _srdhm16(hires, out_m16)
        reluish = hires
        if relu_exponent > 0:
            reluish = _sat16(reluish * (1 << (relu_exponent - 1)))
        reluish = _srdhm16(reluish, relu_m16)
        if relu_exponent > 0:
            reluish = _sat16(reluish * 2)
        if relu_exponent < 0:
            reluish = rounding_divide_by_pot(reluish, -relu_exponent)
        reluish = (reluish + (1 << 15)) >> 1
        value = rounding_divide_by_pot(_sdhm16(reluish, preshift_output), -out_exponent)
        out.append(_clamp8(_int16(value + y.quant.zp)))
    return _table(out)


def _unary_operands(op: Operator) -> tuple[Tensor, Tensor]:
    require(len(op.inputs) >= 1 and op.inputs[0] is not None, "missing input")
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    require(x.size == y.size, f"input shape {list(x.shape)} and output shape {list(y.shape)} differ in size")
    return x, y


def lut_call(ctx: LoweringContext, name: str, x: Tensor, y: Tensor, table: np.ndarray) -> KernelCall:
    return KernelCall(kernel="te_lut_s8", params_type="te_lut_params",
                      params=dict(size=x.size, table=ctx.const(table, "int8_t", f"{name}_table")),
                      args=[x, y], inputs=[x], outputs=[y], macs=x.size, overlaps=[(x, elementwise_gap())])


FLOAT_FUNCTIONS = {"TANH": _tanh, "ELU": _elu}


@lowers("LOGISTIC", "TANH", "ELU", "GELU", "HARD_SWISH", "LEAKY_RELU", *RELU_RANGES)
def lower_unary(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    x, y = _unary_operands(op)
    if op.type == "LOGISTIC":
        # SigmoidPrepare: an int8 output must have scale 1/256 exactly.
        require(y.quant.s == 1.0 / 256, f"output scale is {y.quant.s:g}; TFLite's int8 LOGISTIC requires 1/256")
        table = lut_populate(x, y, _logistic)
    elif op.type in FLOAT_FUNCTIONS:
        table = lut_populate(x, y, FLOAT_FUNCTIONS[op.type])
    elif op.type == "GELU":
        table = lut_populate(x, y, _gelu_approximate if op.options.get("approximate") else _gelu)
    elif op.type == "HARD_SWISH":
        table = hard_swish_table(x, y)
    elif op.type == "LEAKY_RELU":
        table = leaky_relu_table(x, y, float(op.options.get("alpha", 0.0)))  # the schema default
    else:
        table = relu_table(op.type, x, y)
    return lut_call(ctx, name, x, y, table)


@lowers("PRELU")
def lower_prelu(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    require(len(op.inputs) == 2 and None not in op.inputs, "needs an input and an alpha")
    x, y = _unary_operands(op)
    alpha = op.inputs[1]
    require(alpha.is_constant, f"alpha '{alpha.name}' is computed at run time; only a constant alpha is supported")
    require(alpha.dtype == "int8" and alpha.quant is not None and not alpha.quant.per_channel,
            f"alpha '{alpha.name}' must be int8 with per-tensor quantisation")
    require(tuple(x.shape) == tuple(y.shape), f"output shape {list(y.shape)} differs from the input's")
    values = np.unique(alpha.data)
    if values.size == 1:
        return lut_call(ctx, name, x, y, prelu_table(x, alpha, y, int(values[0])))
    shape, (_, alpha_stride) = broadcast_strides(y.shape, x.shape, alpha.shape)
    (identity_multiplier, identity_shift), (alpha_multiplier, alpha_shift) = _prelu_multipliers(x, alpha, y)
    params = dict(ndim=len(shape), shape=_pad(shape, 1), alpha_stride=_pad(alpha_stride),
                  input_offset=-x.quant.zp, alpha_offset=-alpha.quant.zp, output_offset=y.quant.zp,
                  identity_multiplier=identity_multiplier, identity_shift=identity_shift,
                  alpha_multiplier=alpha_multiplier, alpha_shift=alpha_shift,
                  alpha=ctx.tensor_const(alpha, f"{name}_alpha"))
    return KernelCall(kernel="te_prelu_s8", params_type="te_prelu_params", params=params,
                      args=[x, y], inputs=[x], outputs=[y], macs=x.size)
