"""TFLite's quantisation arithmetic, reproduced exactly at generation time.

Multipliers and shifts follow tflite::QuantizeMultiplier; activation ranges follow
CalculateActivationRangeQuantized; the fixed-point helpers mirror gemmlowp's so
that tables built here match what TFLite's reference kernels compute.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import UnsupportedOperator

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def tflite_round(x: float) -> int:
    """std::round: half away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """tflite::QuantizeMultiplier: real = mult * 2^(shift - 31), mult in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        raise UnsupportedOperator(f"a requantisation scale of {real:g} is too large for 32-bit fixed point "
                                  "(are the model's quantisation scales sane?)")
    return q_fixed, shift


def quantize_multipliers(reals) -> tuple[np.ndarray, np.ndarray]:
    pairs = [quantize_multiplier(float(r)) for r in reals]
    return (np.array([p[0] for p in pairs], dtype=np.int64),
            np.array([p[1] for p in pairs], dtype=np.int64))


def f32(x) -> np.float32:
    return np.float32(x)


def activation_range(activation: int, scale: float, zero_point: int,
                     qmin: int = -128, qmax: int = 127) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for NONE, RELU, RELU_N1_TO_1 and RELU6."""

    def quantize(value: float) -> int:
        return zero_point + tflite_round(float(f32(value) / f32(scale)))

    if activation == 0:
        return qmin, qmax
    if activation == 1:  # RELU
        return max(qmin, quantize(0.0)), qmax
    if activation == 2:  # RELU_N1_TO_1
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    if activation == 3:  # RELU6
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    raise ValueError(f"fused activation {activation}")


ACTIVATION_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT", 6: "SIGMOID"}


def accumulator_range(rows: np.ndarray, bias: np.ndarray, input_zp: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel (rows: its weights), the least and the greatest accumulator
    bias + sum((x - input_zp) * w) over every int8 input, without int32 wrapping (a padding tap
    adds 0, which every tap's range holds)."""
    rows = rows.astype(np.int64)
    up, down = rows * (127 - input_zp), rows * (-128 - input_zp)
    bias = bias.astype(np.int64)
    return bias + np.minimum(up, down).sum(axis=1), bias + np.maximum(up, down).sum(axis=1)


# gemmlowp fixed-point primitives on Python ints (exact, arbitrary precision).

def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    # C++ integer division truncates toward zero.
    num = ab + nudge
    q = abs(num) // (1 << 31)
    return q if num >= 0 else -q


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    v = x * (1 << left)
    v = max(INT32_MIN, min(INT32_MAX, v))  # int32 wrap is UB in TFLite; values stay in range
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(v, multiplier), right)
