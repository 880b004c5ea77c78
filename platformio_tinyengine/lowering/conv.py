"""CONV_2D and DEPTHWISE_CONV_2D -> te_conv_s8 / te_depthwise_conv_s8 (te_depthwise_conv_s8_fast: depthwise.py;
a depthwise layer on one input channel runs as the CONV_2D it is)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..ir import Operator, Tensor
from ..memory.overlap import pixel_block_gap, window_kernel_gap
from ..quantization import accumulator_range, activation_range, quantize_multipliers
from .base import Const, KernelCall, LoweringContext, int8_activation, lowers, require
from .depthwise import lower_depthwise_fast

SAME, VALID = 0, 1
# te_conv_s8 runs windows of up to this many bytes as an im2col GEMM (conv_s8.c TE_CONV_COLUMN_MAX:
# one widened column within the GEMM's scratch bound).
CONV_COLUMN_MAX = 1024
# The GEMM of te_conv_1x1_s8 and te_conv_s8 widens the columns of a block of pixels into an
# arena scratch, 4 int16 values per 4-byte chunk: one column takes at most this many
# (te_gemm_s8.h TE_GEMM_SCRATCH_HALVES), a block of columns at most GEMM_BLOCK_HALVES
# (TE_GEMM_BLOCK_HALVES).
GEMM_SCRATCH_HALVES = 1024
GEMM_BLOCK_HALVES = 2 * GEMM_SCRATCH_HALVES
# te_conv_1x1_s8 takes up to this many input channels (one column in the scratch); wider
# pointwise layers run in te_conv_s8.
POINTWISE_MAX_IN_C = GEMM_SCRATCH_HALVES


def smaller_block(block: int) -> int:
    """te_gemm_smaller_block: the block after `block` (6, 4, 2, 1) for fewer pixels."""
    return 4 if block == 6 else block // 2


def gemm_max_block(column_bytes: int, narrow: bool = False) -> int:
    """te_gemm_max_block: the most pixels (6, 4, 2 or 1; at most 4 where narrow) whose widened
    columns fit the block bound, 0 for a column longer than the column bound."""
    chunks = -(-column_bytes // 4)
    if chunks > GEMM_SCRATCH_HALVES // 4:
        return 0
    block = 4 if narrow else 6
    while block > 1 and 4 * block * chunks > GEMM_BLOCK_HALVES:
        block = smaller_block(block)
    return block


def gemm_scratch_bytes(column_bytes: int, narrow: bool = False) -> int:
    """te_gemm_scratch_bytes: the scratch of the GEMM's largest block (also at least the two
    columns the Helium path copies)."""
    return 8 * gemm_max_block(column_bytes, narrow) * -(-column_bytes // 4)


def conv_s8_scratch_bytes(window: int, narrow: bool = False) -> int:
    """te_conv_s8_get_buffer_size: its GEMM's widened block, then the im2col column (8-byte
    aligned); none for the direct loop of wider windows."""
    return gemm_scratch_bytes(window, narrow) + -(-window // 8) * 8 if window <= CONV_COLUMN_MAX else 0


def gemm_blocks(pixels: int, column_bytes: int, narrow: bool = False) -> list[int]:
    """The blocks of pixels the GEMM computes, in order (te_gemm_max_block, then te_gemm_next_block
    for the pixels left): each block's columns are read before any of its outputs is written."""
    block = gemm_max_block(column_bytes, narrow)
    blocks, done = [], 0
    while block and done < pixels:
        while block > pixels - done or (block == 6 and pixels - done == 9):
            block = smaller_block(block)
        blocks.append(block)
        done += block
    return blocks


def padding_before(padding: int, in_size: int, out_size: int, stride: int, dilation: int,
                   kernel: int) -> int:
    """tflite::ComputePaddingWithOffset: the smaller half goes before."""
    if padding == VALID:
        return 0
    effective = (kernel - 1) * dilation + 1
    total = max((out_size - 1) * stride + effective - in_size, 0)
    return total // 2


def expected_out_size(padding: int, in_size: int, stride: int, dilation: int, kernel: int) -> int:
    effective = (kernel - 1) * dilation + 1
    if padding == SAME:
        return (in_size + stride - 1) // stride
    return (in_size + stride - effective) // stride


def per_channel_scales(weights: Tensor, channels: int, role: str) -> np.ndarray:
    q = weights.quant
    require(q is not None, f"{role} '{weights.name}' is not quantised (a float or hybrid model?)")
    scales = q.scale.astype(np.float64)
    if scales.size == 1:
        scales = np.repeat(scales, channels)
    require(scales.size == channels, f"{role} '{weights.name}' has {scales.size} scales for {channels} channels")
    require(np.all(q.zero_point == 0), f"{role} '{weights.name}' has a non-zero zero point")
    return scales


def requantisation(ctx: LoweringContext, name: str, x: Tensor, w_scales: np.ndarray, y: Tensor):
    """effective_scale[c] = input_scale * filter_scale[c] / output_scale, in double, as TFLite."""
    real = float(np.float32(x.quant.s)) * w_scales / float(np.float32(y.quant.s))
    mult, shift = quantize_multipliers(real)
    return ctx.const(mult, "int32_t", f"{name}_mult"), ctx.const(shift, "int8_t", f"{name}_shift")


def check_bias(bias: Tensor | None, channels: int) -> None:
    if bias is not None:
        require(bias.is_constant and bias.dtype == "int32" and bias.size == channels,
                f"bias '{bias.name}' must be a constant int32 vector of {channels} values")


def bias_const(ctx: LoweringContext, name: str, bias: Tensor | None, channels: int):
    check_bias(bias, channels)
    return None if bias is None else ctx.const(bias.data, "int32_t", f"{name}_bias")


def folded_bias(ctx: LoweringContext, name: str, weights: Tensor, bias: Tensor | None, input_zp: int,
                weight_zp: int = 0, doubled: bool = False):
    """bias[oc] - input_zp * sum(w[oc] - weight_zp), wrapped to int32 as the kernel's arithmetic
    wraps; twice that where `doubled` (gemm_double)."""
    rows = weights.data.reshape(weights.shape[0], -1).astype(np.int64)
    sums = rows.sum(axis=1) - weight_zp * rows.shape[1]
    base = bias.data.astype(np.int64) if bias is not None else np.zeros(weights.shape[0], np.int64)
    folded = ((base - input_zp * sums) * (2 if doubled else 1) + (1 << 31)) % (1 << 32) - (1 << 31)
    return ctx.const(folded, "int32_t", f"{name}_bias_doubled" if doubled else f"{name}_bias_folded")


def gemm_filter_layout(weights: np.ndarray) -> np.ndarray:
    """The filter of te_conv_1x1_s8 and of te_conv_s8's im2col path (te_gemm_s8.h): each output
    channel's row [k_h][k_w][in_c] zero-padded to a multiple of 4 bytes, the kernels' chunk."""
    rows = weights.reshape(weights.shape[0], -1)
    return np.pad(rows, ((0, 0), (0, -rows.shape[1] % 4))).reshape(-1)


def conv_filter(ctx: LoweringContext, name: str, w: Tensor, gemm: bool):
    """Rows padded to 4 bytes where the layer runs as a GEMM (the padding adds at most 3 bytes a
    channel), else [out_c][k_h][k_w][in_c]."""
    if gemm:
        return ctx.const(gemm_filter_layout(w.data), "int8_t", f"{name}_filter_rows")
    return ctx.tensor_const(w, f"{name}_filter")


@lowers("CONV_2D", "DEPTHWISE_CONV_2D")
def lower_conv(op: Operator, ctx: LoweringContext, name: str) -> KernelCall:
    depthwise = op.type == "DEPTHWISE_CONV_2D"
    x = int8_activation(op.inputs[0], "input")
    y = int8_activation(op.outputs[0], "output")
    require(len(op.inputs) >= 2 and op.inputs[1] is not None and op.inputs[1].is_constant,
            "filter must be a constant tensor")
    w = op.inputs[1]
    require(w.dtype == "int8", f"filter '{w.name}' is {w.dtype}; only int8 filters are supported")
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    require(len(x.shape) == 4 and len(y.shape) == 4 and len(w.shape) == 4, "only 4-D NHWC tensors are supported")
    n, in_h, in_w, in_c = x.shape
    out_n, out_h, out_w, out_c = y.shape
    require(out_n == n, f"output batch {out_n} differs from the input batch {n}")
    o = op.options
    stride_h, stride_w = o.get("stride_h", 1), o.get("stride_w", 1)
    dil_h, dil_w = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    padding = o.get("padding", SAME)
    if depthwise:
        _, k_h, k_w, w_c = w.shape
        require(w_c == out_c, f"filter has {w_c} channels, output {out_c}")
        require(out_c % in_c == 0, f"output channels {out_c} are not a multiple of input channels {in_c}")
        multiplier = out_c // in_c
    else:
        w_out, k_h, k_w, w_in = w.shape
        require(w_out == out_c, f"filter has {w_out} output channels, the output {out_c}")
        require(w_in == in_c, f"grouped convolution ({in_c} input channels, filter depth {w_in}) is not supported")
        multiplier = 1
    # A PAD fused into this convolution (passes/fuse_pad.py) enlarges the virtual input.
    extra_top, extra_left, extra_h, extra_w = o.get("fused_pad", (0, 0, 0, 0))
    virt_h, virt_w = in_h + extra_h, in_w + extra_w
    for axis, virt, out, s, d, k in (("height", virt_h, out_h, stride_h, dil_h, k_h),
                                     ("width", virt_w, out_w, stride_w, dil_w, k_w)):
        expected = expected_out_size(padding, virt, s, d, k)
        require(expected == out, f"output {axis} {out} does not match the {axis} {expected} the padding implies")
    pad_top = extra_top + padding_before(padding, virt_h, out_h, stride_h, dil_h, k_h)
    pad_left = extra_left + padding_before(padding, virt_w, out_w, stride_w, dil_w, k_w)
    act_min, act_max = activation_range(o.get("fused_activation_function", 0), y.quant.s, y.quant.zp)
    sizes = dict(batches=n, in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c, k_h=k_h, k_w=k_w,
                 stride_h=stride_h, stride_w=stride_w, dil_h=dil_h, dil_w=dil_w, pad_top=pad_top, pad_left=pad_left)
    too_large = [f"{k} {v}" for k, v in sizes.items() if not -(1 << 15) <= v < 1 << 15]
    require(not too_large, f"{', '.join(too_large)}: the convolution kernels hold sizes up to 32767")
    w_scales = per_channel_scales(w, out_c, "filter")
    check_bias(bias, out_c)
    if depthwise:
        fast = lower_depthwise_fast(ctx, name, x, y, w, bias, w_scales, dict(
            batches=n, in_h=in_h, in_w=in_w, channels=out_c, out_h=out_h, out_w=out_w, k_h=k_h, k_w=k_w,
            stride_h=stride_h, stride_w=stride_w, dil_h=dil_h, dil_w=dil_w, pad_top=pad_top, pad_left=pad_left,
            depth_multiplier=multiplier, act_min=act_min, act_max=act_max))
        if fast is not None:
            return fast
        if in_c == 1:
            # One input channel: each output channel filters it alone, which is a CONV_2D whose
            # output rows are the filter's channels (te_conv_s8's im2col GEMM, not the generic
            # depthwise loop).
            rows = np.ascontiguousarray(w.data.reshape(k_h, k_w, out_c).transpose(2, 0, 1)[..., None])
            w = replace(w, shape=(out_c, k_h, k_w, 1), data=rows)
            depthwise, multiplier = False, 1
    mult, shift = requantisation(ctx, name, x, w_scales, y)
    pointwise = not depthwise and k_h == k_w == 1 and stride_h == stride_w == 1 and pad_top == pad_left == 0 \
        and (in_h, in_w) == (out_h, out_w) and in_c <= POINTWISE_MAX_IN_C
    gemm = pointwise or (not depthwise and k_h * k_w * in_c <= CONV_COLUMN_MAX)
    params = dict(
        batches=n, in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c,
        k_h=k_h, k_w=k_w, stride_h=stride_h, stride_w=stride_w, dil_h=dil_h, dil_w=dil_w,
        pad_top=pad_top, pad_left=pad_left, depth_multiplier=multiplier,
        input_offset=-x.quant.zp, output_offset=y.quant.zp, act_min=act_min, act_max=act_max,
        filter=ctx.tensor_const(w, f"{name}_filter") if depthwise else conv_filter(ctx, name, w, gemm),
        bias="NULL", multiplier=mult, shift=shift,
    )
    if gemm:
        params["gemm_rows"] = gemm_rows(ctx, name, params)
    macs = n * out_h * out_w * out_c * k_h * k_w * (1 if depthwise else in_c)
    if pointwise:
        params["gemm_double"] = int(gemm_doubled(params, w.data, bias, x.quant.zp, in_c))
        params["bias"] = folded_bias(ctx, name, w, bias, x.quant.zp, doubled=bool(params["gemm_double"]))
        return gemm_narrowable(KernelCall(
            kernel="te_conv_1x1_s8", params_type="te_conv_params", params=params, args=[x, y], inputs=[x],
            outputs=[y], macs=macs, overlaps=[(x, pixel_block_gap(n * out_h * out_w, in_c, out_c))]),
            gemm_scratch_bytes, in_c)
    # te_conv_s8 reads padding taps as the input zero point, so its bias folds the offset too.
    params["gemm_double"] = int(gemm and gemm_doubled(params, w.data, bias, x.quant.zp, k_h * k_w * in_c))
    params["bias"] = (bias_const(ctx, name, bias, out_c) or "NULL") if depthwise \
        else folded_bias(ctx, name, w, bias, x.quant.zp, doubled=bool(params["gemm_double"]))
    overlap = window_kernel_gap(n, in_h, in_w, in_c, out_h, out_w, out_c, stride_h, stride_w,
                                pad_top, pad_left, dil_h, dil_w)
    if depthwise:
        return KernelCall(kernel="te_depthwise_conv_s8", params_type="te_conv_params", params=params, args=[x, y],
                          inputs=[x], outputs=[y], macs=macs, overlaps=[(x, overlap)])
    # te_conv_s8's GEMM takes a scratch for its widened block and its column (the planner
    # places it; the emitter passes it last), its direct loop none.
    window = k_h * k_w * in_c
    call = KernelCall(kernel="te_conv_s8", params_type="te_conv_params", params=params,
                      args=[x, y] if window <= CONV_COLUMN_MAX else [x, y, "NULL"], inputs=[x], outputs=[y],
                      macs=macs, overlaps=[(x, overlap)])
    return gemm_narrowable(call, conv_s8_scratch_bytes, window) if window <= CONV_COLUMN_MAX else call


# te_gemm_s8.h TE_GEMM_REQUANT_MAX_RIGHT.
GEMM_REQUANT_MAX_RIGHT = 23


def _multipliers_and_rights(params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per channel the multiplier and right = ~shift, as te_gemm_init reads them."""
    return (np.asarray(params["multiplier"].values, np.int64), -1 - np.asarray(params["shift"].values, np.int64))


def gemm_fast_rows(params: dict) -> np.ndarray:
    """Per channel, te_gemm_requant_applies: multiplier >= 0, right = ~shift in
    [1, GEMM_REQUANT_MAX_RIGHT]."""
    multiplier, right = _multipliers_and_rights(params)
    return (multiplier >= 0) & (right >= 1) & (right <= GEMM_REQUANT_MAX_RIGHT)


def gemm_rows(ctx: LoweringContext, name: str, params: dict) -> Const | str:
    """te_conv_params.gemm_rows: the channels that do not take te_gemm_requant (gemm_fast_rows),
    then -1, where the fused rows take the layer with them: the range of int8, and at most a
    quarter of the channels one at a time in C (those of right -1 run in the assembly, in runs of
    their own stage); else NULL, the grouped rows."""
    fast = gemm_fast_rows(params)
    multiplier, right = _multipliers_and_rights(params)
    one_at_a_time = ~fast & ~((multiplier >= 0) & (right == -1))
    if fast.all() or not _full_range(params) or 4 * np.count_nonzero(one_at_a_time) > params["out_c"]:
        return "NULL"
    return ctx.const(np.append(np.flatnonzero(~fast), -1), "int16_t", f"{name}_gemm_rows")


def _full_range(params: dict) -> bool:
    return params["act_min"] <= -128 and params["act_max"] >= 127


def gemm_fused(params: dict) -> bool:
    """te_gemm_init's fused: the range of int8, and every channel takes te_gemm_requant or
    gemm_rows lists those that do not."""
    return _full_range(params) and (bool(gemm_fast_rows(params).all()) or params.get("gemm_rows", "NULL") != "NULL")


def gemm_doubled(params: dict, weights: np.ndarray, bias: Tensor | None, input_zp: int, column_bytes: int) -> bool:
    """gemm_double: the GEMM doubles its inputs and bias so that its fused rows requantise with
    SMMLAR (te_gemm_requant_doubled: 5 instructions an output instead of 7, 4 where the output
    zero point is -128), where the layer has fused rows, the saving pays for doubling (one
    SADD16 per widened word: two per 4 bytes of each column) and the form is exact for every
    int8 input: twice each channel's accumulator bias + sum((x - input_zp) w) (padding taps add
    0) fits int32 (the general rows halve it back), and for the fused rows so does SMMLAR's
    start + h less the sign term at both ends of the accumulator's range
    (h = floor((acc m + 2^30) / 2^31) grows with acc for m >= 0)."""
    saving = params["out_c"] * (3 if params["output_offset"] == -128 else 2)
    if not gemm_fused(params) or 2 * -(-column_bytes // 4) >= saving:
        return False
    rows = weights.reshape(weights.shape[0], -1)
    base = bias.data if bias is not None else np.zeros(rows.shape[0], np.int64)
    low, high = accumulator_range(rows, base, input_zp)
    if low.min() < -(1 << 30) or high.max() > (1 << 30) - 1:
        return False
    fast = gemm_fast_rows(params)
    low, high = low[fast], high[fast]
    multiplier, right = (values[fast] for values in _multipliers_and_rights(params))
    start = (2 * params["output_offset"] + 1) << right
    h_low, h_high = (low * multiplier + (1 << 30)) >> 31, (high * multiplier + (1 << 30)) >> 31
    return bool((start + h_low - 1 >= -(1 << 31)).all() and (start + h_high <= (1 << 31) - 1).all())


def gemm_narrowable(call: KernelCall, scratch_bytes, column_bytes: int) -> KernelCall:
    """The GEMM's scratch: blocks of 6 pixels need fused rows (gemm_fused; te_gemm_init narrows
    the others to 4), and are optional where blocks of at most 4 take less: the planner narrows
    the layer (gemm_narrow) where the wider scratch would raise the arena."""
    call.params["gemm_narrow"] = 0 if gemm_fused(call.params) else 1
    call.scratch_bytes = scratch_bytes(column_bytes, bool(call.params["gemm_narrow"]))
    narrow = scratch_bytes(column_bytes, True)
    if narrow < call.scratch_bytes:
        call.scratch_optional, call.scratch_fallback = True, narrow
        call.params_declined = {"gemm_narrow": 1}
    return call
