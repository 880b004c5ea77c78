"""DEPTHWISE_CONV_2D with depth multiplier 1 and dilation 1 -> te_depthwise_conv_s8_fast.

Everything the kernel can take from generation time is computed here, in one array in the
order the kernel reads it: per block of 4 channels the biases (with and without the input
offset folded in), the weights (per kernel row, per pair of columns: one word of two int16 taps
per channel) and per channel one record of requantisation constants that turns gemmlowp's two
roundings and the output offset into one 64-bit multiply-accumulate and one shift (the proof
is at dw_requantize in TinyEngine/src/kernels/depthwise_conv_s8_fast.c). Channels whose output
cannot depend on their input become constants; a layer with a channel that form cannot give
exactly keeps gemmlowp's arithmetic (TE_DW_EXACT). Depth multipliers other than 1, dilation
and kernels wider than 7 columns stay on te_depthwise_conv_s8.
"""

from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..memory.overlap import window_kernel_gap
from ..quantization import multiply_by_quantized_multiplier, quantize_multipliers
from .base import KernelCall, LoweringContext

KERNEL = "te_depthwise_conv_s8_fast"
FLAG_SIGNED, FLAG_CLAMP, FLAG_EXACT = 1, 2, 4  # TE_DW_SIGNED, TE_DW_CLAMP, TE_DW_EXACT in tinyengine.h
INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _wrap32(v: int) -> int:
    return (v - INT32_MIN) % (1 << 32) + INT32_MIN


def _words(value: int) -> list[int]:
    """A 64-bit value as its low and high int32 words (little-endian)."""
    return [_wrap32(value), value >> 32]


def tflite_output(acc: int, mult: int, shift: int, output_offset: int, act_min: int, act_max: int) -> int:
    """TFLite's output for an int32 accumulator (bias included) whose left shift does not overflow."""
    y = _wrap32(multiply_by_quantized_multiplier(acc, mult, shift) + output_offset)
    return min(max(y, act_min), act_max)


def _constant(value: int, signed: bool) -> list[int]:
    """The record of a channel that always outputs `value` (zero weights and bias: acc = 0)."""
    z = _words(value << 32)
    return [*z, *z, 0, 0] if signed else [*z, 0, 0]


def channel_record(mult: int, shift: int, bias: int, sum_lo: int, sum_hi: int, output_offset: int,
                   act_min: int, act_max: int, signed: bool) -> tuple[list[int], int] | None:
    """One channel's record and the factor its weights and bias are scaled by (0: a constant
    channel), or None if the kernel cannot give TFLite's output for every accumulator the
    channel can reach (its sum of products lies in [sum_lo, sum_hi])."""
    a_lo, a_hi = bias + sum_lo, bias + sum_hi
    wraps = a_lo < INT32_MIN or a_hi > INT32_MAX
    left, e = max(shift, 0), max(-shift, 0)
    if mult == 0:
        return _constant(tflite_output(0, 0, 0, output_offset, act_min, act_max), signed), 0
    if not wraps and INT32_MIN <= a_lo << left and a_hi << left <= INT32_MAX:
        # The output rises with the accumulator (no wrap on the way): equal ends, a constant.
        ends = [tflite_output(a, mult, shift, output_offset, act_min, act_max) for a in (a_lo, a_hi)]
        rounded = [multiply_by_quantized_multiplier(a, mult, shift) + output_offset for a in (a_lo, a_hi)]
        if ends[0] == ends[1] and all(INT32_MIN <= r <= INT32_MAX for r in rounded):
            return _constant(ends[0], signed), 0
    if e >= 1:
        z = (1 << 30) + (1 << (30 + e)) + (output_offset << (31 + e))
        z_neg = z - (1 << 31) if signed else z
        ends = (INT32_MIN, INT32_MAX) if wraps else (a_lo, a_hi)
        for start in (z, z_neg):
            if not INT32_MIN <= start >> 32 <= INT32_MAX:
                return None
            if any(not INT32_MIN <= (a * mult + start) >> 32 <= INT32_MAX for a in ends):
                return None
        return [*_words(z), *(_words(z_neg) if signed else []), mult, e - 1], 1
    factor = 1 << (left + 1)
    if wraps or not (INT32_MIN <= a_lo * factor and a_hi * factor <= INT32_MAX):
        return None
    z = _words((1 << 31) + (output_offset << 32))
    return [*z, *(z if signed else []), mult, 0], factor


def sum_range(weights: np.ndarray, input_offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Per channel, the least and greatest sum of (x + input_offset) * w over int8 inputs x
    (padding taps add 0, inside both bounds)."""
    lo_x, hi_x = -128 + input_offset, 127 + input_offset
    products = np.stack([weights * lo_x, weights * hi_x])
    return products.min(axis=0).sum(axis=0), products.max(axis=0).sum(axis=0)


def pack_rows(weights: np.ndarray, k_h: int, k_w: int) -> np.ndarray:
    """[k_h * k_w][channels] (already scaled) -> [channels / 4 rounded up][k_h * row words] int32:
    per kernel row, per pair of columns (2j, 2j + 1) one word per channel of the block, column 2j
    in the low int16 half; for an odd k_w the last column's channels 0 and 2, then 1 and 3."""
    channels = weights.shape[1]
    blocks, pairs = -(-channels // 4), k_w // 2
    w = np.zeros((k_h, k_w, blocks * 4), dtype=np.int64)
    w[:, :, :channels] = weights.reshape(k_h, k_w, channels)
    w = w.reshape(k_h, k_w, blocks, 4).transpose(2, 0, 1, 3) & 0xFFFF  # block, row, column, channel
    rows = [(w[:, :, 0:2 * pairs:2, :] | w[:, :, 1:2 * pairs:2, :] << 16).reshape(blocks, k_h, 4 * pairs)]
    if k_w % 2:
        last = w[:, :, k_w - 1, :]
        rows.append(np.stack([last[..., 0] | last[..., 2] << 16, last[..., 1] | last[..., 3] << 16], axis=-1))
    return np.concatenate(rows, axis=-1).reshape(blocks, -1)


def pack_blocks(weights: np.ndarray, biases: np.ndarray, input_offset: int, records: list[list[int]],
                k_h: int, k_w: int) -> np.ndarray:
    """The kernel's `blocks`: per block of 4 channels (zero past the last channel) the biases
    with the input offset folded in, the biases, the weight rows, the records."""
    channels, width = len(records), len(records[0])
    blocks = -(-channels // 4)
    folded = np.array([_wrap32(int(v)) for v in biases + input_offset * weights.sum(axis=0)], dtype=np.int64)
    head = np.zeros((blocks, 8), dtype=np.int64)
    recs = np.zeros((blocks * 4, width), dtype=np.int64)
    for c in range(channels):
        head[c // 4, c % 4], head[c // 4, 4 + c % 4] = folded[c], biases[c]
        recs[c] = records[c]
    words = np.concatenate([head, pack_rows(weights, k_h, k_w), recs.reshape(blocks, 4 * width)], axis=1)
    words = words.reshape(-1) & 0xFFFFFFFF
    return np.where(words >= 1 << 31, words - (1 << 32), words)


def layer_blocks(mult: np.ndarray, shift: np.ndarray, bias: np.ndarray, weights: np.ndarray, input_offset: int,
                 output_offset: int, act_min: int, act_max: int, k_h: int, k_w: int) -> tuple[np.ndarray, int]:
    """The kernel's `blocks` and flags. A layer with a channel the 64-bit form cannot give
    exactly (accumulators that wrap under a left shift, or a shift so large that the output
    offset leaves 64 bits) takes TE_DW_EXACT: unscaled weights and gemmlowp's arithmetic in C."""
    signed = output_offset > act_min
    flags = (FLAG_SIGNED if signed else 0) | (FLAG_CLAMP if (act_min, act_max) != (-128, 127) else 0)
    sum_lo, sum_hi = sum_range(weights, input_offset)
    found = [channel_record(int(mult[c]), int(shift[c]), int(bias[c]), int(sum_lo[c]), int(sum_hi[c]),
                            output_offset, act_min, act_max, signed) for c in range(mult.size)]
    factors = np.array([f[1] if f is not None else 1 for f in found], dtype=np.int64)
    scaled = weights * factors
    if any(f is None for f in found) or scaled.min(initial=0) < INT16_MIN or scaled.max(initial=0) > INT16_MAX:
        records = [[int(m), int(s), output_offset, 0] for m, s in zip(mult, shift)]
        return pack_blocks(weights, bias, input_offset, records, k_h, k_w), flags | FLAG_EXACT
    return pack_blocks(scaled, bias * factors, input_offset, [f[0] for f in found], k_h, k_w), flags


def lower_depthwise_fast(ctx: LoweringContext, name: str, x: Tensor, y: Tensor, w: Tensor, bias: Tensor | None,
                         w_scales: np.ndarray, g: dict) -> KernelCall | None:
    """The fast kernel's call for the layer of geometry `g` (te_conv_params' fields), or None if it
    does not take the layer."""
    if g["depth_multiplier"] != 1 or g["dil_h"] != 1 or g["dil_w"] != 1 or g["k_w"] > 7:
        return None
    channels, taps = g["channels"], g["k_h"] * g["k_w"]
    real = float(np.float32(x.quant.s)) * w_scales / float(np.float32(y.quant.s))
    mult, shift = quantize_multipliers(real)
    weights = w.data.reshape(taps, channels).astype(np.int64)
    bias_values = bias.data.astype(np.int64) if bias is not None else np.zeros(channels, np.int64)
    input_offset = -x.quant.zp
    blocks, flags = layer_blocks(mult, shift, bias_values, weights, input_offset, y.quant.zp, g["act_min"],
                                 g["act_max"], g["k_h"], g["k_w"])
    params = dict(
        batches=g["batches"], in_h=g["in_h"], in_w=g["in_w"], channels=channels, out_h=g["out_h"],
        out_w=g["out_w"], k_h=g["k_h"], k_w=g["k_w"], stride_h=g["stride_h"], stride_w=g["stride_w"],
        pad_top=g["pad_top"], pad_left=g["pad_left"], input_offset=input_offset, act_min=g["act_min"],
        act_max=g["act_max"], flags=flags,
        blocks=ctx.const(blocks, "int32_t", f"{name}_blocks"),
    )
    macs = g["batches"] * g["out_h"] * g["out_w"] * channels * taps
    # The portable path reads and writes in te_depthwise_conv_s8's order and the DSP path
    # reads a block's channels no later than that: the same gap holds.
    overlap = window_kernel_gap(g["batches"], g["in_h"], g["in_w"], channels, g["out_h"], g["out_w"], channels,
                                g["stride_h"], g["stride_w"], g["pad_top"], g["pad_left"])
    return KernelCall(kernel=KERNEL, params_type="te_dw_params", params=params, args=[x, y], inputs=[x],
                      outputs=[y], macs=macs, overlaps=[(x, overlap)])
