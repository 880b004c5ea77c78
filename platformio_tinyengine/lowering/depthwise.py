"""DEPTHWISE_CONV_2D with depth multiplier 1 and dilation 1 -> te_depthwise_conv_s8_fast.

Everything the kernel can take from generation time is computed here: the weights in the
order it reads them (int16 pairs, per block of 4 channels, per tap: channels 0 and 2, 1 and 3) and per
channel one record of requantisation constants that turns gemmlowp's two roundings into
one 64-bit multiply-accumulate and one shift (the proof is at dw_requantize in
TinyEngine/src/kernels/depthwise_conv_s8_fast.c). Layers it cannot take exactly stay on
te_depthwise_conv_s8.
"""

from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..memory.overlap import window_kernel_gap
from ..quantization import quantize_multipliers
from .base import KernelCall, LoweringContext

KERNEL = "te_depthwise_conv_s8_fast"
WORDS = 8  # DW_WORDS: nudge (acc >= 0) lo, hi; nudge (acc < 0) lo, hi; multiplier; shift; bias; 0
LANES = [0, 2, 1, 3]  # a block's weights in SXTB16 lane order: even channels, then odd
INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _words(value: int) -> tuple[int, int]:
    """A 64-bit value as its low and high int32 words (little-endian)."""
    lo = value & 0xFFFFFFFF
    return lo - (1 << 32) if lo >= 1 << 31 else lo, value >> 32


def requant_records(mult: np.ndarray, shift: np.ndarray, bias: np.ndarray, weights: np.ndarray,
                    input_offset: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Per channel: the record dw_requantize reads and the factor the channel's weights are
    scaled by; None if a channel with a left shift could overflow its scaled accumulator."""
    channels = mult.size
    records = np.zeros((channels, WORDS), dtype=np.int64)
    factors = np.ones(channels, dtype=np.int64)
    # Largest |x + input_offset| over int8 x, and so the reach of any window's sum of products.
    x_reach = max(abs(-128 + input_offset), abs(127 + input_offset))
    reach = x_reach * np.abs(weights).sum(axis=0)
    for c in range(channels):
        m, s, b = int(mult[c]), int(shift[c]), int(bias[c])
        if s < 0:
            e = -s
            nudge = (1 << 30) + (1 << (30 + e))
            records[c, :4] = [*_words(nudge), *_words(nudge - (1 << 31))]
            records[c, 5] = e - 1
        else:
            factor = 1 << (s + 1)
            scaled = weights[:, c] * factor
            if scaled.min() < INT16_MIN or scaled.max() > INT16_MAX:
                return None
            if (b - int(reach[c])) * factor < INT32_MIN or (b + int(reach[c])) * factor > INT32_MAX:
                return None
            records[c, :4] = [*_words(1 << 31), *_words(1 << 31)]
            factors[c] = factor
            b *= factor
        records[c, 4] = m
        records[c, 6] = b
    return records, factors


def pack_filter(weights: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """[taps][channels] -> [channels / 4 rounded up][taps][2] int32 words of int16 pairs in
    LANES order (low half first), zero-padded."""
    taps, channels = weights.shape
    blocks = -(-channels // 4)
    padded = np.zeros((taps, blocks * 4), dtype=np.int64)
    padded[:, :channels] = weights * factors
    halves = padded.reshape(taps, blocks, 4)[:, :, LANES].transpose(1, 0, 2) & 0xFFFF
    words = halves[..., 0::2] | halves[..., 1::2] << 16
    return np.where(words >= 1 << 31, words - (1 << 32), words)


def lower_depthwise_fast(ctx: LoweringContext, name: str, x: Tensor, y: Tensor, w: Tensor, bias: Tensor | None,
                         w_scales: np.ndarray, g: dict) -> KernelCall | None:
    """The fast kernel's call for the layer of geometry `g` (te_conv_params' fields), or None."""
    if g["depth_multiplier"] != 1 or g["dil_h"] != 1 or g["dil_w"] != 1:
        return None
    channels, taps = g["channels"], g["k_h"] * g["k_w"]
    real = float(np.float32(x.quant.s)) * w_scales / float(np.float32(y.quant.s))
    mult, shift = quantize_multipliers(real)
    weights = w.data.reshape(taps, channels).astype(np.int64)
    bias_values = bias.data.astype(np.int64) if bias is not None else np.zeros(channels, np.int64)
    input_offset = -x.quant.zp
    found = requant_records(mult, shift, bias_values, weights, input_offset)
    if found is None:
        return None
    records, factors = found
    params = dict(
        batches=g["batches"], in_h=g["in_h"], in_w=g["in_w"], channels=channels, out_h=g["out_h"],
        out_w=g["out_w"], k_h=g["k_h"], k_w=g["k_w"], stride_h=g["stride_h"], stride_w=g["stride_w"],
        pad_top=g["pad_top"], pad_left=g["pad_left"], input_offset=input_offset, output_offset=y.quant.zp,
        act_min=g["act_min"], act_max=g["act_max"],
        filter=ctx.const(pack_filter(weights, factors), "int32_t", f"{name}_filter_packed"),
        requant=ctx.const(records, "int32_t", f"{name}_requant"),
    )
    macs = g["batches"] * g["out_h"] * g["out_w"] * channels * taps
    # The portable path reads and writes in te_depthwise_conv_s8's order and the DSP path
    # reads a block's channels no later than that: the same gap holds.
    overlap = window_kernel_gap(g["batches"], g["in_h"], g["in_w"], channels, g["out_h"], g["out_w"], channels,
                                g["stride_h"], g["stride_w"], g["pad_top"], g["pad_left"])
    return KernelCall(kernel=KERNEL, params_type="te_dw_params", params=params, args=[x, y], inputs=[x],
                      outputs=[y], macs=macs, overlaps=[(x, overlap)])
