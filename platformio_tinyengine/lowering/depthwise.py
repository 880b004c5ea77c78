"""DEPTHWISE_CONV_2D with depth multiplier 1 and dilation 1 -> te_depthwise_conv_s8_fast.

Everything the kernel can take from generation time is laid out here, in one array in the
order the kernel reads it, and no larger than TFLite's own parameters (flash is what the
board runs out of first): per block of 4 channels the biases, the int8 weights (per kernel
row, per pair of columns, two words that SXTB16 splits into each channel's pair of taps) and
per channel the requantisation multiplier and shift. The kernel requantises with one 64-bit
multiply-accumulate (te_requant_fast in TinyEngine/include/te_fixedpoint.h, exact for every
accumulator) in assembly where a block's four shifts allow it; the blocks holding a channel
outside that range (TE_DW_SHIFT_1, TE_DW_SHIFT_0, TE_DW_EXACT) are listed after the last block
and requantised in C (te_requantize where the shift is beyond te_requant_fast), but where the
band or the wide blocks below take their shifts. Depth multipliers other than 1, dilation and
kernels wider than 7 columns stay on te_depthwise_conv_s8.

The kernel also takes an optional arena scratch (KernelCall.scratch_optional: the planner
leaves it out where it would raise the arena, and the kernel runs without it). The DSP path
either widens the input rows into it once per call (te_dw_params.band: 3x3 and 5x5 of stride 1,
7x7 of stride 2, where its steps of 4 outputs take fewer instructions than the other way,
band_pays), or widens the weights of square 3x3, 5x5 and 7x7 windows into it, which costs less
than it saves where there are enough whole windows (optional_scratch).
"""

from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..memory.overlap import window_kernel_gap
from ..quantization import quantize_multipliers
from .base import KernelCall, LoweringContext

KERNEL = "te_depthwise_conv_s8_fast"
# TE_DW_SIGNED, TE_DW_CLAMP, TE_DW_EXACT, TE_DW_SHIFT_1, TE_DW_SHIFT_0 in tinyengine.h
FLAG_SIGNED, FLAG_CLAMP, FLAG_EXACT, FLAG_SHIFT_1, FLAG_SHIFT_0 = 1, 2, 4, 8, 16
# te_requant_fast's range of right = -shift - 1 (TE_REQUANT_FOLD_MAX_RIGHT in te_fixedpoint.h);
# the kernel's assembly takes it from RIGHT_MIN (right 0 needs another start value), the wide
# blocks from 0, the band from -1 (shift 0: no rounding shift).
RIGHT_MIN, RIGHT_MAX = 1, 22


def channel_rights(mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Per channel the shift as the kernel stores it, right = -shift - 1 (~shift). A zero
    multiplier outputs the offset whatever the shift, so it takes the fast path's smallest."""
    return np.where(mult == 0, RIGHT_MIN, ~shift.astype(np.int64))


def layer_flags(rights: np.ndarray, output_offset: int, act_min: int, act_max: int) -> int:
    """TE_DW_SIGNED where rounding needs the accumulator's sign (an output offset above act_min:
    otherwise a negative accumulator clamps to act_min either way) and TE_DW_CLAMP for activations
    narrower than int8, both for the whole layer; per channel outside the assembly's range,
    TE_DW_SHIFT_1 for right 0 (shift -1), TE_DW_SHIFT_0 for right -1 (shift 0) and TE_DW_EXACT for
    the others (left shifts, rights beyond te_requant_fast's)."""
    flags = FLAG_SIGNED if output_offset > act_min else 0
    flags |= FLAG_CLAMP if (act_min, act_max) != (-128, 127) else 0
    flags |= FLAG_SHIFT_1 if (rights == 0).any() else 0
    flags |= FLAG_SHIFT_0 if (rights == -1).any() else 0
    return flags | (FLAG_EXACT if ((rights < -1) | (rights > RIGHT_MAX)).any() else 0)


def listed_blocks(rights: np.ndarray) -> np.ndarray:
    """The whole blocks of 4 channels holding a channel whose right the assembly does not take
    (the kernel requantises them in C; a last block of fewer channels is C's anyway)."""
    blocks = rights.size // 4
    outside = (rights[:4 * blocks] < RIGHT_MIN) | (rights[:4 * blocks] > RIGHT_MAX)
    return np.flatnonzero(outside.reshape(blocks, 4).any(axis=1))


def pack_rows(weights: np.ndarray, k_h: int, k_w: int) -> np.ndarray:
    """[k_h * k_w][channels] int8 -> [channels / 4 rounded up][k_h * row bytes] int8: per kernel
    row, per pair of columns (a, b) = (2j, 2j + 1) the bytes c0a c1a c0b c1b, c2a c3a c2b c3b (so
    SXTB16 of a word gives one channel's taps a and b, rotated by 8 the next channel's), then for
    an odd k_w the last column's c0 c1 c2 c3."""
    channels = weights.shape[1]
    blocks, pairs = -(-channels // 4), k_w // 2
    w = np.zeros((k_h, k_w, blocks * 4), dtype=np.int8)
    w[:, :, :channels] = weights.reshape(k_h, k_w, channels)
    w = w.reshape(k_h, k_w, blocks, 2, 2).transpose(2, 0, 1, 3, 4)  # block, row, column, channel pair, channel
    paired = w[:, :, :2 * pairs].reshape(blocks, k_h, pairs, 2, 2, 2)  # ..., pair, column a/b, channel pair, channel
    rows = [paired.transpose(0, 1, 2, 4, 3, 5).reshape(blocks, k_h, 8 * pairs)]  # channel pair, column, channel
    if k_w % 2:
        rows.append(w[:, :, k_w - 1].reshape(blocks, k_h, 4))
    return np.concatenate(rows, axis=-1).reshape(blocks, -1)


def pack_blocks(weights: np.ndarray, biases: np.ndarray, mult: np.ndarray, rights: np.ndarray,
                k_h: int, k_w: int) -> np.ndarray:
    """The kernel's `blocks` as int32 words: per block of 4 channels (zero past the last
    channel) the biases, the weight rows (int8, little-endian in the words), the multipliers,
    the rights as 4 bytes; then, where a channel's right is outside [RIGHT_MIN, RIGHT_MAX] (the
    flags say so), listed_blocks and -1."""
    channels = biases.size
    blocks = -(-channels // 4)

    def per_block(values: np.ndarray, dtype) -> np.ndarray:
        padded = np.zeros(blocks * 4, dtype=dtype)
        padded[:channels] = values
        return padded.reshape(blocks, 4).view(np.uint8)

    parts = [per_block(biases, "<i4"), pack_rows(weights, k_h, k_w).view(np.uint8),
             per_block(mult, "<i4"), per_block(rights, np.int8)]
    words = np.concatenate(parts, axis=1).reshape(-1).view("<i4").astype(np.int32)
    if ((rights < RIGHT_MIN) | (rights > RIGHT_MAX)).any():
        words = np.concatenate([words, listed_blocks(rights).astype(np.int32), np.int32([-1])])
    return words


def wide_words(k: int) -> int:
    """dw_wide_words: a wide block's int32 words (biases, int16 weight pairs, records)."""
    return 4 + k * (4 * (k // 2) + 2) + 5


def band_words(k: int) -> int:
    """dw_band_words: a channel's record in the band (bias, int16 weight pairs: k - 1 a row for
    stride 1, 4 for 7x7 of stride 2, requantisation)."""
    return 4 + 7 * 4 if k == 7 else 4 + k * (k - 1)


def band_cols(out_w: int, k: int, stride: int) -> int:
    """dw_band_cols: the int16 columns of one channel's row in the band's ring (2 k rows)."""
    return ((out_w - 1) * stride + k + 2) & ~1


def band_applies(k_h: int, k_w: int, stride: int) -> bool:
    """The kernels the band has steps for: 3x3 and 5x5 of stride 1, 7x7 of stride 2."""
    return k_h == k_w and (k_h, stride) in ((3, 1), (5, 1), (7, 2))


# The flags that keep a layer off the band and off the wide blocks (their requantisation takes
# neither the sign nor a clamp, the band rights from -1 and the wide blocks from 0).
NOT_BAND = FLAG_SIGNED | FLAG_CLAMP | FLAG_EXACT
NOT_WIDE = NOT_BAND | FLAG_SHIFT_0


def scratch_bytes(channels: int, k_h: int, k_w: int, flags: int, band: int = 0, out_w: int = 0,
                  stride: int = 1) -> int:
    """te_depthwise_conv_s8_fast_get_buffer_size: the band (band_applies, rows of at least 4
    outputs, paddings >= 0 as the caller sets band, no flag of NOT_BAND: per channel a record and
    2 k rows of the ring), else for square 3x3, 5x5 and 7x7 windows of at least 4 channels and no
    flag of NOT_WIDE the wide blocks."""
    if band and band_applies(k_h, k_w, stride) and out_w >= 4 and not flags & NOT_BAND:
        return 4 * channels * band_words(k_h) + 4 * k_h * channels * band_cols(out_w, k_h, stride)
    if k_h != k_w or k_h not in (3, 5, 7) or channels < 4 or flags & NOT_WIDE:
        return 0
    return 4 * (channels // 4) * wide_words(k_h)


# Per block of 4 channels, measured on the M7 (vww): instructions dw_widen takes, and
# instructions a whole window saves with the wide block.
WIDEN_COST = {3: 165, 5: 350, 7: 615}
WIDE_SAVING = {3: 22, 5: 55, 7: 78}


def _whole(out: int, stride: int, pad: int, k: int, size: int) -> int:
    """Output positions along one axis whose window lies inside the input."""
    starts = np.arange(out) * stride - pad
    return int(np.count_nonzero((starts >= 0) & (starts + k <= size)))


# Instructions on the M7 (vww's layers), per channel and output row: the band's steps of 4
# outputs and what each row costs besides (widening, calls); the wide blocks' per output.
BAND_STEP, BAND_ROW, WIDE_OUTPUT = {3: 81, 5: 145, 7: 255}, 30, {3: 28.5, 5: 61.5, 7: 110}


def band_pays(p: dict) -> bool:
    """The band path's layers (band_applies, equal strides, paddings >= 0: patch tiles may have
    less, rows of at least 4 outputs) where it takes fewer instructions than the wide blocks."""
    k = p["k_h"]
    applies = band_applies(k, p["k_w"], p["stride_w"]) and p["stride_h"] == p["stride_w"] and p["pad_top"] >= 0 \
        and p["pad_left"] >= 0 and p["out_w"] >= 4
    return applies and BAND_STEP[k] * -(-p["out_w"] // 4) + BAND_ROW < WIDE_OUTPUT[k] * p["out_w"]


def optional_scratch(p: dict) -> int:
    """The scratch worth asking the planner for (te_dw_params' fields in p, whose `band` it
    sets): the band where it pays, else wide_scratch."""
    p["band"] = int(band_pays(p) and not p["flags"] & NOT_BAND)
    if p["band"]:
        return scratch_bytes(p["channels"], p["k_h"], p["k_w"], p["flags"], 1, p["out_w"], p["stride_w"])
    return wide_scratch(p)


def wide_scratch(p: dict) -> int:
    """The wide blocks' scratch where the call's whole windows save more than widening costs,
    else 0 (also what a call whose band the planner declines asks for instead:
    KernelCall.scratch_alternative)."""
    k = p["k_h"]
    size = scratch_bytes(p["channels"], k, p["k_w"], p["flags"])
    if not size:
        return 0
    whole = p["batches"] * _whole(p["out_h"], p["stride_h"], p["pad_top"], k, p["in_h"]) * \
        _whole(p["out_w"], p["stride_w"], p["pad_left"], k, p["in_w"])
    return size if whole * WIDE_SAVING[k] > WIDEN_COST[k] else 0


def lower_depthwise_fast(ctx: LoweringContext, name: str, x: Tensor, y: Tensor, w: Tensor, bias: Tensor | None,
                         w_scales: np.ndarray, g: dict) -> KernelCall | None:
    """The fast kernel's call for the layer of geometry `g` (te_conv_params' fields), or None if it
    does not take the layer."""
    if g["depth_multiplier"] != 1 or g["dil_h"] != 1 or g["dil_w"] != 1 or g["k_w"] > 7:
        return None
    channels, taps = g["channels"], g["k_h"] * g["k_w"]
    real = float(np.float32(x.quant.s)) * w_scales / float(np.float32(y.quant.s))
    mult, shift = quantize_multipliers(real)
    rights = channel_rights(mult, shift)
    biases = bias.data.astype(np.int32) if bias is not None else np.zeros(channels, np.int32)
    blocks = pack_blocks(w.data.reshape(taps, channels), biases, mult, rights, g["k_h"], g["k_w"])
    params = dict(
        batches=g["batches"], in_h=g["in_h"], in_w=g["in_w"], channels=channels, out_h=g["out_h"],
        out_w=g["out_w"], k_h=g["k_h"], k_w=g["k_w"], stride_h=g["stride_h"], stride_w=g["stride_w"],
        pad_top=g["pad_top"], pad_left=g["pad_left"], input_offset=-x.quant.zp, output_offset=y.quant.zp,
        act_min=g["act_min"], act_max=g["act_max"],
        flags=layer_flags(rights, y.quant.zp, g["act_min"], g["act_max"]),
        blocks=ctx.const(blocks, "int32_t", f"{name}_blocks"), band=0,
    )
    macs = g["batches"] * g["out_h"] * g["out_w"] * channels * taps
    # The portable path reads and writes in te_depthwise_conv_s8's order and the DSP path
    # reads a block's channels no later than that: the same gap holds.
    overlap = window_kernel_gap(g["batches"], g["in_h"], g["in_w"], channels, g["out_h"], g["out_w"], channels,
                                g["stride_h"], g["stride_w"], g["pad_top"], g["pad_left"])
    # The wide blocks double the sums: only where they fit int32 whatever the input (|x + input
    # offset| <= 255).
    doubled = np.abs(biases.astype(np.int64)) + 255 * np.abs(w.data.reshape(taps, channels).astype(np.int64)).sum(0)
    scratch = optional_scratch(params) if doubled.max() < 1 << 30 else 0
    return KernelCall(kernel=KERNEL, params_type="te_dw_params", params=params, args=[x, y] if scratch else [x, y, "NULL"],
                      inputs=[x], outputs=[y], macs=macs, overlaps=[(x, overlap)], scratch_bytes=scratch,
                      scratch_optional=bool(scratch), params_declined={"band": 0} if params["band"] else {},
                      scratch_alternative=wide_scratch(params) if params["band"] else 0)
