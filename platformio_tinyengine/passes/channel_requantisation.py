"""Rewrite convolution channels whose requantisation the fast kernels cannot take into
equivalent ones they can, exactly.

One channel outside the fast kernels' requantisation (a multiplier >= 0 with a right shift
from 1 to the kernel's most: te_gemm_requant's for CONV_2D, te_depthwise_conv_s8_fast's for
DEPTHWISE_CONV_2D) sends its whole layer to a slower path.
Two kinds of such channels have exact equivalents inside it:

- Constant channels. Quantised models carry dead channels: weights so small against the
  output's scale (right shifts of 23 to 30) that the output byte cannot change whatever the
  input. A channel's output is a monotone function of its int32 accumulator (round-half-away
  steps, then a clamp), and the accumulator lies in an interval fixed by the bias, the weights
  and the int8 range of the input (a padding tap adds 0, which every tap's range holds).
  Where both ends give the same byte c, the output is c for every input: the channel becomes
  zero weights, bias 8 (c - output zero point) and effective scale 1/8.
- Negative scales (some quantisers emit them): TFLite's multiplier is then negative. With the
  weights, the bias and the scale negated, the accumulator is negated (exactly, where its
  interval cannot wrap) and so is the multiplier: SaturatingRoundingDoublingHighMul sees the
  same product.

Every rewrite is checked here with TFLite's integer arithmetic before it is kept.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOperator
from ..ir import Graph, Operator, Quant
from ..lowering.conv import GEMM_REQUANT_MAX_RIGHT
from ..lowering.depthwise import RIGHT_MAX, RIGHT_MIN
from ..quantization import (accumulator_range, activation_range, multiply_by_quantized_multiplier,
                            quantize_multipliers)

# The weights' axis of the output channels, and the largest right shift the fast kernels take.
_CHANNEL_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3}
_MAX_RIGHT = {"CONV_2D": GEMM_REQUANT_MAX_RIGHT, "DEPTHWISE_CONV_2D": RIGHT_MAX}
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
# A constant's accumulator is 8 (c - zero point) at effective scale 1/8.
_SCALE_DOWN = 8


def takes_fast_path(multiplier: np.ndarray, shift: np.ndarray, max_right: int) -> np.ndarray:
    """Channels the fast kernel requantises (right shifts up to max_right)."""
    right = ~shift.astype(np.int64)
    return (multiplier == 0) | ((multiplier > 0) & (right >= RIGHT_MIN) & (right <= max_right))


class _Layer:
    """One convolution's per-channel weights, biases and scales, rewritten in copies."""

    def __init__(self, op: Operator, axis: int, act_min: int, act_max: int) -> None:
        x, self.w, self.bias = op.inputs[:3]
        y = op.outputs[0]
        self.axis, self.zp_out, self.act = axis, y.quant.zp, (act_min, act_max)
        self.max_right = _MAX_RIGHT[op.type]
        self.channels = self.w.data.shape[axis]
        self.x_s, self.y_s = float(np.float32(x.quant.s)), float(np.float32(y.quant.s))
        self.scales = np.resize(self.w.quant.scale.astype(np.float32).reshape(-1), self.channels)
        self.multiplier, self.shift = self.requantisation(self.scales)
        self.weights = np.moveaxis(self.w.data, axis, 0).reshape(self.channels, -1).astype(np.int64)
        self.biases = self.bias.data.astype(np.int64)
        self.acc_lo, self.acc_hi = accumulator_range(self.weights, self.biases, x.quant.zp)
        self.rewritten = 0

    def requantisation(self, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TFLite's multipliers and shifts for weight scales `scales` (as lowering/conv.py)."""
        return quantize_multipliers(self.x_s * scales.astype(np.float64) / self.y_s)

    def fast(self, multiplier: int, shift: int) -> bool:
        return bool(takes_fast_path(np.array([multiplier]), np.array([shift]), self.max_right)[0])

    def output(self, acc: int, multiplier: int, shift: int) -> int:
        y = multiply_by_quantized_multiplier(acc, multiplier, shift) + self.zp_out
        return max(self.act[0], min(self.act[1], y))

    def rewrite(self, c: int, weights: np.ndarray, bias: int, scale: np.float32) -> None:
        self.weights[c], self.biases[c], self.scales[c] = weights, bias, scale
        self.rewritten += 1

    def to_constant(self, c: int) -> bool:
        lo, hi, m, s = int(self.acc_lo[c]), int(self.acc_hi[c]), int(self.multiplier[c]), int(self.shift[c])
        value = self.output(lo, m, s)
        if value != self.output(hi, m, s):
            return False
        scale = np.float32(self.y_s / (_SCALE_DOWN * self.x_s))
        (m1,), (s1,) = self.requantisation(np.array([scale]))
        acc = _SCALE_DOWN * (value - self.zp_out)
        if not self.fast(m1, s1) or self.output(acc, int(m1), int(s1)) != value:
            return False
        self.rewrite(c, 0, acc, scale)
        return True

    def negated(self, c: int) -> bool:
        if self.multiplier[c] >= 0 or (self.weights[c] == -128).any() or self.acc_lo[c] == INT32_MIN:
            return False
        (m1,), (s1,) = self.requantisation(-self.scales[c:c + 1])
        if m1 != -self.multiplier[c] or s1 != self.shift[c] or not self.fast(m1, s1):
            return False
        self.rewrite(c, -self.weights[c], -int(self.biases[c]), -self.scales[c])
        return True

    def commit(self) -> None:
        shape = np.moveaxis(self.w.data, self.axis, 0).shape
        self.w.data = np.moveaxis(self.weights.astype(np.int8).reshape(shape), 0, self.axis)
        self.w.quant = Quant(scale=self.scales, zero_point=np.resize(self.w.quant.zero_point, self.channels),
                             axis=self.axis)
        self.bias.data = self.biases.astype(np.int32)


def _layer(op: Operator) -> _Layer | None:
    """The convolution as a _Layer, or None if it is not one this pass can read (the lowering
    reports what is wrong with it)."""
    axis = _CHANNEL_AXIS.get(op.type)
    if axis is None or len(op.inputs) < 3 or None in op.inputs[:3] or not op.outputs:
        return None
    x, w, bias = op.inputs[:3]
    y = op.outputs[0]
    if x.dtype != "int8" or y.dtype != "int8" or w.dtype != "int8" or bias.dtype != "int32" \
            or not w.is_constant or not bias.is_constant or None in (x.quant, y.quant, w.quant) \
            or w.data.ndim != 4 or bias.data.size != w.data.shape[axis] \
            or w.quant.scale.size not in (1, w.data.shape[axis]):
        return None
    scales = np.concatenate([w.quant.scale.reshape(-1), x.quant.scale.reshape(-1)[:1], y.quant.scale.reshape(-1)[:1]])
    if scales.size != w.quant.scale.size + 2 or not np.isfinite(scales).all() or (scales == 0).any() \
            or x.quant.scale.reshape(-1)[0] < 0 or y.quant.scale.reshape(-1)[0] < 0:
        return None
    try:
        act_min, act_max = activation_range(op.options.get("fused_activation_function", 0), y.quant.s, y.quant.zp)
        return _Layer(op, axis, act_min, act_max)
    except (ValueError, UnsupportedOperator):
        return None


def rewrite_channel_requantisation(graph: Graph) -> None:
    """Rewrite the channels of every convolution whose weights and bias no other operator
    reads (the rewrite changes the tensors); a note says how many were constant."""
    users: dict[int, int] = {}
    for op in graph.operators:
        for t in op.inputs:
            if t is not None:
                users[id(t)] = users.get(id(t), 0) + 1
    constant_layers = constant = 0
    for op in graph.operators:
        if op.type not in _CHANNEL_AXIS or len(op.inputs) < 3 or any(
                t is None or users[id(t)] != 1 for t in op.inputs[1:3]):
            continue
        layer = _layer(op)
        if layer is None:
            continue
        n = 0
        for c in np.nonzero(~takes_fast_path(layer.multiplier, layer.shift, layer.max_right))[0]:
            # Both rewrites reason about the accumulator without int32 wrapping.
            if INT32_MIN <= layer.acc_lo[c] and layer.acc_hi[c] <= INT32_MAX:
                if layer.to_constant(c):
                    n += 1
                else:
                    layer.negated(c)
        if layer.rewritten:
            layer.commit()
        constant_layers, constant = constant_layers + bool(n), constant + n
    if constant:
        graph.notes.append(f"{constant} output channel(s) of {constant_layers} convolution(s) give the same byte "
                           f"for every input: they are computed from a constant bias, without their weights")
