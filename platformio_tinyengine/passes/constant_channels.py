"""Give convolution output channels that are constant a requantisation every fast kernel takes.

Quantised models carry dead channels: weights so small against the output's scale that the
output byte cannot change whatever the input. Their effective scales are tiny (right shifts
of 23 to 30), outside the range the fast kernels' requantisation takes, and one such channel
sends its whole layer to the exact C path, several times slower. A channel's output is a
monotone function of its int32 accumulator (round-half-away steps, then a clamp), and the
accumulator lies in an interval fixed by the bias, the weights and the int8 range of the
input (a padding tap adds 0, which every tap's range holds). Where both ends of the interval
give the same byte c, the output is c for every input, and the channel is rewritten to zero
weights, bias 8 (c - output zero point) and effective scale 1/8, which every kernel turns
into c exactly (checked here with TFLite's integer arithmetic before it is kept).
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Operator, Quant
from ..lowering.depthwise import RIGHT_MAX, RIGHT_MIN
from ..quantization import activation_range, multiply_by_quantized_multiplier, quantize_multipliers

# The weights' axis of the output channels.
_CHANNEL_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3}
_INT32 = (-(1 << 31), (1 << 31) - 1)
# The constant's accumulator is 8 (c - zero point) at effective scale 1/8.
_SCALE_DOWN = 8


def _output(acc: int, multiplier: int, shift: int, zero_point: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, multiply_by_quantized_multiplier(acc, multiplier, shift) + zero_point))


def _takes_fast_path(multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    right = ~shift.astype(np.int64)
    return (multiplier == 0) | ((right >= RIGHT_MIN) & (right <= RIGHT_MAX))


def _constant_channels(op: Operator) -> int:
    """Rewrites op's constant channels outside the fast range in place; returns how many."""
    axis = _CHANNEL_AXIS.get(op.type)
    if axis is None or len(op.inputs) < 3 or None in op.inputs[:3] or not op.outputs:
        return 0
    x, w, bias = op.inputs[:3]
    y = op.outputs[0]
    if x.dtype != "int8" or y.dtype != "int8" or w.dtype != "int8" or bias.dtype != "int32" \
            or not w.is_constant or not bias.is_constant or x.quant is None or y.quant is None \
            or w.quant is None or w.data.ndim != 4:
        return 0
    channels = w.data.shape[axis]
    scales = w.quant.scale.astype(np.float64).reshape(-1)
    io_scales = np.concatenate([x.quant.scale.reshape(-1)[:1], y.quant.scale.reshape(-1)[:1]]).astype(np.float64)
    if bias.data.size != channels or scales.size not in (1, channels) or io_scales.size != 2 \
            or not (np.isfinite(scales).all() and (scales > 0).all()) \
            or not (np.isfinite(io_scales).all() and (io_scales > 0).all()):
        return 0
    try:
        act_min, act_max = activation_range(op.options.get("fused_activation_function", 0), y.quant.s, y.quant.zp)
    except ValueError:
        return 0
    scales = np.resize(scales, channels)
    x_s, y_s = float(np.float32(x.quant.s)), float(np.float32(y.quant.s))
    multiplier, shift = quantize_multipliers(x_s * scales / y_s)
    weights = np.moveaxis(w.data, axis, 0).reshape(channels, -1).astype(np.int64)
    low, high = -128 - x.quant.zp, 127 - x.quant.zp
    tap_min = np.minimum(weights * low, weights * high).sum(axis=1)
    tap_max = np.maximum(weights * low, weights * high).sum(axis=1)
    canon_scale = np.float32(y_s / (_SCALE_DOWN * x_s))
    (canon_m,), (canon_shift,) = quantize_multipliers(np.array([x_s * float(canon_scale) / y_s]))
    if not _takes_fast_path(np.array([canon_m]), np.array([canon_shift]))[0]:
        return 0
    new_w, new_bias, new_scales = np.moveaxis(w.data.copy(), axis, 0), bias.data.copy(), scales.astype(np.float32)
    rewritten = 0
    for c in np.nonzero(~_takes_fast_path(multiplier, shift))[0]:
        lo, hi = int(bias.data[c]) + int(tap_min[c]), int(bias.data[c]) + int(tap_max[c])
        if lo < _INT32[0] or hi > _INT32[1]:
            continue
        value = _output(lo, int(multiplier[c]), int(shift[c]), y.quant.zp, act_min, act_max)
        if value != _output(hi, int(multiplier[c]), int(shift[c]), y.quant.zp, act_min, act_max):
            continue
        acc = _SCALE_DOWN * (value - y.quant.zp)
        if _output(acc, int(canon_m), int(canon_shift), y.quant.zp, act_min, act_max) != value:
            continue
        new_w[c], new_bias[c], new_scales[c] = 0, acc, canon_scale
        rewritten += 1
    if rewritten:
        w.data = np.moveaxis(new_w, 0, axis)
        w.quant = Quant(scale=new_scales, zero_point=np.resize(w.quant.zero_point, channels), axis=axis)
        bias.data = new_bias
    return rewritten


def canonicalise_constant_channels(graph: Graph) -> None:
    """Rewrite every convolution's constant channels that the fast kernels could not take
    (weights and biases used by one operator only: the rewrite changes the tensors)."""
    users: dict[int, int] = {}
    for op in graph.operators:
        for t in op.inputs:
            if t is not None:
                users[id(t)] = users.get(id(t), 0) + 1
    layers, channels = 0, 0
    for op in graph.operators:
        if op.type in _CHANNEL_AXIS and len(op.inputs) >= 3 and all(
                t is not None and users[id(t)] == 1 for t in op.inputs[1:3]):
            n = _constant_channels(op)
            layers, channels = layers + bool(n), channels + n
    if channels:
        graph.notes.append(f"{channels} output channel(s) of {layers} convolution(s) give the same byte for every "
                           f"input: they are computed from a constant bias, without their weights")
