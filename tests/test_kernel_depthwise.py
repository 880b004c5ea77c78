"""te_depthwise_conv_s8_fast (portable path, host) against TFLite's reference kernels, its
parameter layout and size, and which layers it takes."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from platformio_tinyengine.lowering.depthwise import (FLAG_CLAMP, FLAG_EXACT, FLAG_SHIFT_0, FLAG_SHIFT_1, FLAG_SIGNED,
                                                     NOT_BAND, NOT_WIDE, RIGHT_MAX, RIGHT_MIN, band_cols,
                                                     band_pays, band_words, pack_rows, scratch_bytes, wide_words)
from platformio_tinyengine.memory.planner import plan_memory
from platformio_tinyengine.pipeline import compile_model
from platformio_tinyengine.quantization import quantize_multipliers
from platformio_tinyengine.resources import C_INCLUDE_DIR, C_SOURCE_DIR
from tests.conftest import SHARED_MODELS, requires_shared_models
from tests.harness import WARNINGS
from tests.kernel_check import assert_bit_exact, bias_for, scale, weights
from tests.model_builder import ModelBuilder

SAME, VALID = 0, 1
FAST, GENERIC = "te_depthwise_conv_s8_fast", "te_depthwise_conv_s8"

# Shapes the fast kernel treats specially. Output zero point -128 without an activation (flags
# 0) takes the DSP path's unrolled 3x3, 5x5 and 7x7 windows requantised in assembly;
# other output zero points round with the accumulator's sign (TE_DW_SIGNED) and activations
# narrower than int8 clamp (TE_DW_CLAMP). Clipped windows (SAME, a fused asymmetric PAD, maps
# smaller than the kernel, stride 2) start on odd and even kernel columns and end before, on
# and after the last one (for 3x3 kernels every column range, from one-column inputs); kernels
# 1 to 7 columns wide, even and odd. Also: channels not a multiple of 4 (the scalar tail after
# the 4-channel blocks), extreme input zero points, per-channel scales giving negative, zero and
# positive shifts, dead channels (biases near +-2^31, zero multipliers), the ends of the fast
# requantisation's shift range, layers needing gemmlowp's arithmetic in C (TE_DW_EXACT), windows
# entirely in a fused PAD's padding. Layers mixing ordinary channels with ones the assembly does not
# requantise (right 0 and -1, a left shift, right 23: SPECIAL) in their first, middle and last
# blocks and in a last block of fewer than 4 channels, which the kernel requantises in C alone.
CASES = {
    "3x3_same_c16": dict(h=9, w=8, c=16, k=(3, 3)),
    "3x3_stride2_odd_c7_zp127": dict(h=9, w=11, c=7, k=(3, 3), stride=2, zp=127),
    "5x5_same_c9_zp_minus128_relu6": dict(h=7, w=9, c=9, k=(5, 5), zp=-128, activation=3),
    "5x5_stride2_valid_c4": dict(h=11, w=10, c=4, k=(5, 5), stride=2, padding=VALID),
    "7x7_same_c12_on_5x5_map": dict(h=5, w=5, c=12, k=(7, 7)),
    "7x7_stride2_c6_relu": dict(h=13, w=12, c=6, k=(7, 7), stride=2, activation=1),
    "3x3_fused_asymmetric_pad_c5": dict(h=6, w=7, c=5, k=(3, 3), padding=VALID, pad_op=((0, 2), (2, 1))),
    "1x3_kernel_stride_1x2_c3": dict(h=5, w=9, c=3, k=(1, 3), stride=(1, 2)),
    "4x2_kernel_c8": dict(h=6, w=5, c=8, k=(4, 2)),
    "3x3_1x1_map_c2": dict(h=1, w=1, c=2, k=(3, 3)),
    "3x3_positive_and_zero_shifts_c8": dict(h=6, w=6, c=8, k=(3, 3), shifts="mixed"),
    "5x5_dead_channel_bias_c4": dict(h=6, w=6, c=4, k=(5, 5), dead_bias=True),
    "3x3_batch_2_c4": dict(h=4, w=5, c=4, k=(3, 3), batch=2),
    "3x3_unrolled_batch_2_c8": dict(h=5, w=4, c=8, k=(3, 3), batch=2, out_zp=-128),
    "3x3_no_bias_c5": dict(h=5, w=4, c=5, k=(3, 3), with_bias=False),
    "3x3_unrolled_c20": dict(h=9, w=10, c=20, k=(3, 3), out_zp=-128),
    "3x3_unrolled_stride2_c7_zp127": dict(h=10, w=9, c=7, k=(3, 3), stride=2, zp=127, out_zp=-128),
    "5x5_unrolled_c12_zp_minus128": dict(h=9, w=11, c=12, k=(5, 5), zp=-128, out_zp=-128),
    "5x5_unrolled_stride2_c9": dict(h=12, w=13, c=9, k=(5, 5), stride=2, out_zp=-128),
    "7x7_unrolled_c8": dict(h=10, w=9, c=8, k=(7, 7), out_zp=-128),
    "7x7_unrolled_stride2_c4_valid": dict(h=13, w=15, c=4, k=(7, 7), stride=2, padding=VALID, out_zp=-128),
    "7x7_on_3x3_map_c8": dict(h=3, w=3, c=8, k=(7, 7), out_zp=-128),
    "7x7_on_2x4_map_c4": dict(h=2, w=4, c=4, k=(7, 7), out_zp=-128),
    "3x3_unrolled_shifts_dead_c8": dict(h=7, w=6, c=8, k=(3, 3), shifts="mixed", dead_bias=True, out_zp=-128),
    "5x5_extreme_scales_c8": dict(h=7, w=8, c=8, k=(5, 5), shifts="extreme", out_zp=-128),
    "3x3_extreme_scales_dead_c8": dict(h=5, w=6, c=8, k=(3, 3), shifts="extreme", dead_bias=True),
    "3x3_left_shift_11_c6": dict(h=6, w=7, c=6, k=(3, 3), shifts="left_11", out_zp=-128),
    "5x5_edge_shifts_c8": dict(h=7, w=8, c=8, k=(5, 5), shifts="edge", dead_bias=True, out_zp=-128),
    "3x3_edge_shifts_signed_c8": dict(h=6, w=5, c=8, k=(3, 3), shifts="edge", out_zp=17),
    "3x3_shift_minus_1_c8": dict(h=7, w=6, c=8, k=(3, 3), shifts="quarter", out_zp=-128),
    "5x5_shift_minus_1_signed_c6": dict(h=6, w=7, c=6, k=(5, 5), shifts="quarter", out_zp=9, activation=1),
    "5x5_relu_c8": dict(h=6, w=7, c=8, k=(5, 5), activation=1),
    "3x3_relu_n1_to_1_c6": dict(h=5, w=6, c=6, k=(3, 3), activation=2, out_zp=3),
    "6x6_kernel_c4": dict(h=8, w=9, c=4, k=(6, 6), out_zp=-128),
    "2x7_kernel_stride_2x1_c5": dict(h=6, w=11, c=5, k=(2, 7), stride=(2, 1)),
    "3x4_kernel_c4": dict(h=5, w=8, c=4, k=(3, 4), out_zp=-128),
    "1x1_kernel_c6": dict(h=3, w=4, c=6, k=(1, 1)),
    "3x5_fused_pad_c8": dict(h=4, w=5, c=8, k=(3, 5), padding=VALID, pad_op=((1, 2), (3, 2)), out_zp=-128),
    "3x3_one_column_map_c8": dict(h=5, w=1, c=8, k=(3, 3), padding=VALID, pad_op=((1, 1), (2, 2)), out_zp=-128),
    "3x3_one_column_map_c4_relu": dict(h=4, w=1, c=4, k=(3, 3), padding=VALID, pad_op=((2, 0), (2, 2)),
                                       activation=1),
    "3x3_windows_in_the_padding_c5": dict(h=2, w=3, c=5, k=(3, 3), padding=VALID, pad_op=((4, 3), (0, 5))),
    "3x3_windows_in_the_padding_c8": dict(h=2, w=2, c=8, k=(3, 3), padding=VALID, pad_op=((3, 4), (5, 0)),
                                          out_zp=-128),
    "3x3_sums_at_the_wide_bound_c8": dict(h=6, w=7, c=8, k=(3, 3), zp=-128, out_zp=-128, sums_bound=-1),
    "3x3_sums_over_the_wide_bound_c8": dict(h=6, w=7, c=8, k=(3, 3), zp=-128, out_zp=-128, sums_bound=0),
    "3x3_listed_first_middle_last_c15": dict(h=8, w=9, c=15, k=(3, 3), out_zp=-128,
                                             special={0: "right_0", 6: "right_-1", 11: "left_1", 13: "right_0"}),
    "3x3_listed_middle_stride2_fused_pad_c12": dict(h=7, w=8, c=12, k=(3, 3), stride=2, padding=VALID,
                                                    pad_op=((1, 2), (2, 0)), out_zp=-128, special={5: "right_0"}),
    "3x3_listed_every_block_c8": dict(h=6, w=7, c=8, k=(3, 3), zp=127, out_zp=-128,
                                      special={1: "right_0", 6: "right_-1"}),
    "3x3_listed_c3": dict(h=5, w=6, c=3, k=(3, 3), out_zp=-128, special={1: "left_1"}),
    "3x3_shift_1_on_wide_blocks_c16": dict(h=9, w=10, c=16, k=(3, 3), out_zp=-128,
                                           special={4: "right_0", 15: "right_0"}),
    "3x3_listed_windows_in_the_padding_c8": dict(h=2, w=2, c=8, k=(3, 3), padding=VALID, pad_op=((3, 4), (5, 0)),
                                                 out_zp=-128, special={6: "right_-1"}),
    "5x5_listed_partial_block_alone_stride2_c9": dict(h=9, w=11, c=9, k=(5, 5), stride=2, out_zp=-128,
                                                      special={8: "left_1"}),
    "5x5_shift_1_on_wide_blocks_c8": dict(h=9, w=9, c=8, k=(5, 5), zp=-128, out_zp=-128, special={7: "right_0"}),
    "7x7_listed_middle_last_c12": dict(h=9, w=10, c=12, k=(7, 7), out_zp=-128,
                                       special={4: "right_23", 9: "right_0"}),
    "5x3_listed_kernel_stride_2x1_c8": dict(h=9, w=7, c=8, k=(5, 3), stride=(2, 1), out_zp=-128,
                                            special={3: "right_-1"}),
    "3x3_listed_and_signed_c8": dict(h=5, w=6, c=8, k=(3, 3), out_zp=11, special={2: "right_0"}),
}

# Effective scales s_in * s_w / s_out of the channels outside the assembly's requantisation, by
# right = -shift - 1: 0 (TE_DW_SHIFT_1), -1 (TE_DW_SHIFT_0), -2 and 23 (TE_DW_EXACT; right 23
# with a bias at a rounding step, so that the output still moves and the channel stays as it is).
SPECIAL = {"right_0": 0.3, "right_-1": 0.7, "left_1": 1.5, "right_23": 0.9 * 2.0 ** -24}


def out_size(n: int, k: int, s: int, padding: int) -> int:
    return (n + s - 1) // s if padding == SAME else (n - k + s) // s


def weight_scales(rng: np.random.Generator, c: int, shifts: str, s_in: float, s_out: float) -> np.ndarray:
    if shifts == "mixed":
        # Effective scales s_in * s_w / s_out from 1/1000 to 6: shifts from -9 to 3, and 0.
        effective = np.array([0.001, 0.6, 1.5, 6.0, 0.75, 0.02, 3.0, 0.3])
    elif shifts == "left_11":
        effective = np.array([2.0 ** 11, 0.01, 2.0 ** 10 * 1.5, 0.3])
    elif shifts == "extreme":
        # Below 2^-32 (a zero multiplier), shifts near -23 and -31 (outputs that barely or never
        # move: constant channels), and ordinary ones.
        effective = np.array([1e-13, 1e-7, 3e-10, 0.004, 2.5, 0.02, 5e-5, 1.0])
    elif shifts == "quarter":
        # Shift -1 (scales in [1/4, 1/2): TE_DW_SHIFT_1, requantised in C) beside ordinary ones.
        effective = np.array([0.3, 0.01, 0.49, 0.26, 0.002, 0.4, 0.05, 0.25])
    elif shifts == "edge":
        # A zero multiplier, then shifts -23 and -2 (the ends of te_requant_fast's range) and -9.
        effective = np.array([1e-13, 0.6 * 2.0 ** -23, 0.2, 0.24, 0.004, 0.13, 0.9 * 2.0 ** -23, 0.15])
    else:
        return np.array([scale(rng, 0.001, 0.02) for _ in range(c)], np.float32)
    return (effective[np.arange(c) % effective.size] * s_out / s_in).astype(np.float32)


def add_depthwise(b: ModelBuilder, rng: np.random.Generator, name: str, h: int, w: int, c: int, k=(3, 3),
                  stride=1, padding=SAME, zp=None, activation=0, pad_op=None, batch=1, shifts="",
                  dead_bias=False, with_bias=True, out_zp=None, sums_bound=None, chain=False,
                  special=None) -> tuple[int, tuple]:
    """An input -> [PAD ->] DEPTHWISE_CONV_2D -> output branch; returns its input and shape.
    sums_bound: biases of alternating signs making |bias| + 255 * sum |weights| = 2^30 + sums_bound
    (the largest sum the kernel's wide blocks take is 2^30 - 1). chain: a second DEPTHWISE_CONV_2D,
    3x3 SAME with output zero point -128, after the first (its input dies there: the planner may
    place its output over it). special: channel -> SPECIAL's kind."""
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    s_in = scale(rng, 0.01, 0.1)
    z_in = int(rng.integers(-128, 128)) if zp is None else zp
    x = b.input(f"{name}_x", (batch, h, w, c), "int8", s_in, z_in)
    conv_in, ch, cw = x, h, w
    if pad_op is not None:
        (t, bo), (le, r) = pad_op
        ch, cw = h + t + bo, w + le + r
        conv_in = b.tensor(f"{name}_padded", (batch, ch, cw, c), "int8", s_in, z_in)
        pads = b.const(f"{name}_pads", np.array([[0, 0], [t, bo], [le, r], [0, 0]], np.int32))
        b.op("PAD", [x, pads], [conv_in], version=2)
    s_out = scale(rng, 0.02, 0.5)
    w_scales = weight_scales(rng, c, shifts, s_in, s_out)
    for channel, kind in (special or {}).items():
        w_scales[channel] = np.float32(SPECIAL[kind] * s_out / s_in)
    w_data = weights(rng, (1, k[0], k[1], c))
    w_data[0, 0, 0, : min(3, c)] = [-127, 127, -128][: min(3, c)]
    inputs = [conv_in, b.const(f"{name}_w", w_data, w_scales, 0, axis=3)]
    if with_bias:
        bias, bias_scales = bias_for(rng, c, s_in, w_scales)
        if dead_bias:
            bias[0] = -(1 << 31) + 5
            bias[-1] = (1 << 31) - 7
        if sums_bound is not None:
            sums = 255 * np.abs(w_data.astype(np.int64)).reshape(-1, c).sum(0)
            bias = (((1 << 30) + sums_bound - sums) * (-1) ** np.arange(c)).astype(np.int32)
        for channel, kind in (special or {}).items():
            if kind == "right_23":
                bias[channel] = round(0.5 / SPECIAL[kind])
        inputs.append(b.const(f"{name}_b", bias, bias_scales, 0))
    y = b.tensor(f"{name}_y", (batch, out_size(ch, k[0], sh, padding), out_size(cw, k[1], sw, padding), c),
                 "int8", s_out, int(rng.integers(-128, 128)) if out_zp is None else out_zp)
    b.op("DEPTHWISE_CONV_2D", inputs, [y], version=3, padding=padding, stride_h=sh, stride_w=sw,
         dilation_h_factor=1, dilation_w_factor=1, depth_multiplier=1, fused_activation_function=activation)
    if chain:
        y_shape = (batch, out_size(ch, k[0], sh, padding), out_size(cw, k[1], sw, padding), c)
        s_next = scale(rng, 0.02, 0.5)
        w_next = weights(rng, (1, 3, 3, c))
        w_next_scales = weight_scales(rng, c, "", s_out, s_next)
        bias_next, bias_next_scales = bias_for(rng, c, s_out, w_next_scales)
        z = b.tensor(f"{name}_z", y_shape, "int8", s_next, -128)
        b.op("DEPTHWISE_CONV_2D", [y, b.const(f"{name}_w2", w_next, w_next_scales, 0, axis=3),
                                   b.const(f"{name}_b2", bias_next, bias_next_scales, 0)], [z], version=3,
             padding=SAME, stride_h=1, stride_w=1, dilation_h_factor=1, dilation_w_factor=1, depth_multiplier=1)
        y = z
    b.output(y)
    return x, (batch, h, w, c)


def case_model(rng: np.random.Generator, case: dict) -> bytes:
    b = ModelBuilder()
    add_depthwise(b, rng, "dw", **case)
    return b.finish()


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_fast_depthwise_bit_exact(case):
    rng = np.random.default_rng(sum(map(ord, case)))
    model = case_model(rng, CASES[case])
    assert [c.kernel for c in compile_model(model).kernel_calls] == [FAST]
    assert_bit_exact(model, rng, input_sets=2)


@pytest.mark.parametrize("fill", [-128, 127])
def test_constant_extreme_inputs(fill):
    rng = np.random.default_rng(fill + 300)
    model = case_model(rng, dict(h=7, w=7, c=9, k=(3, 3), shifts="mixed", zp=-fill - 1 if fill < 0 else -128))
    inputs = [[np.full((1, 7, 7, 9), fill, np.int8)]]
    assert_bit_exact(model, rng, inputs=inputs)


# A layer of listed blocks (right 0 and -1, a left shift) cut into patches.
LISTED_PATCHED = dict(h=12, w=11, c=10, k=(5, 5), out_zp=-128, special={2: "right_0", 5: "left_1", 9: "right_-1"})


@pytest.mark.parametrize("case", [dict(h=12, w=11, c=8, k=(5, 5), stride=1), LISTED_PATCHED],
                         ids=["ordinary", "listed"])
def test_patched_stage_bit_exact(case):
    """Patch-based inference rewrites the kernel's padding per tile, negative included."""
    rng = np.random.default_rng(41)
    b = ModelBuilder()
    x, _ = add_depthwise(b, rng, "dw", **case)
    model = b.finish()
    assert_bit_exact(model, rng, input_sets=1, patch="3x2@0")


def depthwise_options_model(rng: np.random.Generator, cin: int, depth_multiplier=1, dilation=1, k_w=3,
                            stride=1) -> bytes:
    b = ModelBuilder()
    cout = cin * depth_multiplier
    s_in, s_out = 0.05, 0.05
    x = b.input("x", (1, 7, 7, cin), "int8", s_in, 3)
    w_scales = np.array([scale(rng, 0.005, 0.02) for _ in range(cout)], np.float32)
    wt = b.const("w", weights(rng, (1, 3, k_w, cout)), w_scales, 0, axis=3)
    bias, bias_scales = bias_for(rng, cout, s_in, w_scales)
    size = out_size(7, 3, stride, SAME)
    y = b.tensor("y", (1, size, size, cout), "int8", s_out, -2)
    b.op("DEPTHWISE_CONV_2D", [x, wt, b.const("b", bias, bias_scales, 0)], [y], version=3, padding=SAME,
         stride_h=stride, stride_w=stride, dilation_h_factor=dilation, dilation_w_factor=dilation,
         depth_multiplier=depth_multiplier)
    b.output(y)
    return b.finish()


@pytest.mark.parametrize("options", [dict(depth_multiplier=2), dict(dilation=2), dict(k_w=9)],
                         ids=["depth_multiplier_2", "dilation_2", "9_columns"])
def test_generic_kernel_where_the_fast_one_does_not_apply(options):
    """depth multiplier, dilation, a kernel wider than 7 columns."""
    rng = np.random.default_rng(9)
    model = depthwise_options_model(rng, 3, **options)
    assert [c.kernel for c in compile_model(model).kernel_calls] == [GENERIC]
    assert_bit_exact(model, rng, input_sets=1)


@pytest.mark.parametrize("options", [dict(depth_multiplier=8, stride=2), dict(depth_multiplier=5, dilation=2),
                                     dict(depth_multiplier=3, k_w=9)],
                         ids=["multiplier_8_stride_2", "multiplier_5_dilation_2", "multiplier_3_9_columns"])
def test_one_input_channel_runs_as_a_convolution(options):
    """A depthwise layer on one input channel (TFLite Micro's person detector starts with one)
    is a CONV_2D whose output rows are the filter's channels: te_conv_s8, bit-exact."""
    rng = np.random.default_rng(10)
    model = depthwise_options_model(rng, 1, **options)
    assert [c.kernel for c in compile_model(model).kernel_calls] == ["te_conv_s8"]
    assert_bit_exact(model, rng, input_sets=2)


def test_cases_cover_every_variant():
    """The cases reach the unrolled windows, each combination of TE_DW_SIGNED and TE_DW_CLAMP,
    the assembly's requantisation (with both ends of its shift range), TE_DW_SHIFT_1,
    TE_DW_SHIFT_0 and TE_DW_EXACT, and listed blocks first, in the middle and last among the
    whole ones of layers with a last block of fewer than 4 channels, that block's channels alone,
    and every block."""
    flags, unrolled, rights, listed = set(), set(), set(), set()
    for case in CASES.values():
        b = ModelBuilder()
        add_depthwise(b, np.random.default_rng(0), "dw", **case)
        p = compile_model(b.finish()).kernel_calls[0].params
        flags.add(p["flags"])
        if p["flags"] == 0 and p["k_h"] == p["k_w"] in (3, 5, 7) and min(p["in_h"], p["in_w"]) >= p["k_h"]:
            unrolled.add(p["k_h"])
        if not p["flags"] & (FLAG_EXACT | FLAG_SHIFT_1 | FLAG_SHIFT_0):
            rights.update(block_fields(p)[3].reshape(-1)[:p["channels"]].tolist())
        blocks, whole = block_list(p), p["channels"] // 4
        if p["channels"] % 4 and blocks is not None:
            listed.update({"first"} if 0 in blocks else set())
            listed.update({"middle"} if set(blocks) & set(range(1, whole - 1)) else set())
            listed.update({"last"} if whole - 1 in blocks else set())
            own = block_fields(p)[3].reshape(-1)[:p["channels"]]
            if not blocks and not ((own >= RIGHT_MIN) & (own <= RIGHT_MAX)).all():
                listed.add("partial alone")
        if blocks is not None and whole > 1 and blocks == list(range(whole)):
            listed.add("every")
    assert {f & (FLAG_SIGNED | FLAG_CLAMP) for f in flags} == {0, FLAG_SIGNED, FLAG_CLAMP, FLAG_SIGNED | FLAG_CLAMP}
    assert {f & FLAG_EXACT for f in flags} == {0, FLAG_EXACT}
    assert {f & FLAG_SHIFT_1 for f in flags} == {0, FLAG_SHIFT_1}
    assert {f & FLAG_SHIFT_0 for f in flags} == {0, FLAG_SHIFT_0}
    assert unrolled == {3, 5, 7}
    assert {RIGHT_MIN, RIGHT_MAX} <= rights and min(rights) >= RIGHT_MIN and max(rights) <= RIGHT_MAX
    assert listed == {"first", "middle", "last", "partial alone", "every"}


def test_wide_blocks_where_they_pay_and_the_doubled_sums_fit():
    """The optional scratch (the DSP path's band or wide blocks, te_depthwise_conv_s8_fast_get_buffer_size
    bytes): asked for by layers without flags where the band pays or whose whole windows save
    more than widening costs, and whose doubled sums fit int32 (|bias| + 255 * sum |weights| < 2^30); granted only
    where the arena does not grow (a layer alone: never)."""
    asked = {}
    for name, case in CASES.items():
        b = ModelBuilder()
        add_depthwise(b, np.random.default_rng(0), "dw", **case)
        model = compile_model(b.finish())
        call = model.kernel_calls[0]
        asked[name] = call.scratch_declined
        assert call.scratch_bytes == 0 and call.args[-1] == "NULL"
        if call.scratch_declined:
            p = call.params
            band = band_pays(p)
            assert not p["flags"] & (NOT_BAND if band else NOT_WIDE) and p["k_h"] == p["k_w"] in (3, 5, 7)
            assert call.scratch_declined == scratch_bytes(p["channels"], p["k_h"], p["k_w"], p["flags"], band,
                                                          p["out_w"], p["stride_w"])
    assert asked["3x3_sums_at_the_wide_bound_c8"] and not asked["3x3_sums_over_the_wide_bound_c8"]
    assert asked["3x3_unrolled_c20"] and asked["5x5_unrolled_c12_zp_minus128"] and asked["7x7_unrolled_c8"]
    # The wide blocks take right 0 (TE_DW_SHIFT_1), the band right -1 too (TE_DW_SHIFT_0).
    assert asked["3x3_shift_1_on_wide_blocks_c16"] and asked["5x5_shift_1_on_wide_blocks_c8"]
    assert asked["3x3_listed_every_block_c8"]
    # No whole window (the kernel is larger than the map): widening would not pay.
    assert not asked["7x7_on_3x3_map_c8"]


def test_optional_scratch_granted_where_the_arena_does_not_grow():
    """On a model of many branches the planner grants some layers their optional scratch (the
    call then passes its scratch for NULL), and the arena is the one without any."""
    b = ModelBuilder()
    for name, case in CASES.items():
        add_depthwise(b, np.random.default_rng(1), name, **case)
    model = compile_model(b.finish())
    asking = [call for call in model.kernel_calls if call.scratch_bytes or call.scratch_declined]
    granted = [call for call in asking if call.scratch_bytes]
    assert granted and all(call.scratch_optional and "NULL" not in call.args for call in granted)
    assert all(call.args[-1] == "NULL" for call in asking if not call.scratch_bytes)
    arena = model.plan.arena_bytes
    for call in granted:
        call.scratch_bytes = 0
    assert plan_memory(model.steps, model.graph.inputs, model.graph.outputs).arena_bytes == arena


def test_band_where_it_pays_declined_where_the_arena_grows():
    """3x3 stride-1 layers without flags whose rows are wide enough ask for the band
    (te_dw_params.band; scratch_bytes(..., band=1, out_w) bytes), others the wide blocks; a layer
    alone would grow the arena: declined, band back to 0 and NULL in the scratch's place."""
    asked = {}
    for name, case in {"wide_rows": dict(h=5, w=16, c=8), "narrow_rows": dict(h=5, w=6, c=8),
                       "stride_2": dict(h=9, w=16, c=8, stride=2), "relu6": dict(h=5, w=16, c=8, activation=3)}.items():
        b = ModelBuilder()
        add_depthwise(b, np.random.default_rng(3), "dw", out_zp=-128, **case)
        call = compile_model(b.finish()).kernel_calls[0]
        assert call.params["band"] == 0 and call.args[-1] == "NULL" and call.scratch_bytes == 0
        asked[name] = call.scratch_declined
    assert asked["wide_rows"] == scratch_bytes(8, 3, 3, 0, band=1, out_w=16)
    assert asked["narrow_rows"] == asked["stride_2"] == scratch_bytes(8, 3, 3, 0)
    assert asked["relu6"] == 0


@requires_shared_models
def test_vww_band_layers_granted():
    """On vww the band is granted to the 3x3 stride-1 layers of rows of 10 to 40 outputs, the 5x5
    one and the 7x7 stride-2 one of rows of 10, the arena staying what it is without any optional
    scratch."""
    with open(SHARED_MODELS / "vww.tflite", "rb") as f:
        model = compile_model(f.read())
    band = [call for call in model.kernel_calls if call.kernel == FAST and call.params["band"]]
    assert [(call.params["k_h"], call.params["stride_w"], call.params["out_w"]) for call in band] == \
        [(3, 1, 40), (3, 1, 20), (3, 1, 20), (7, 2, 10), (3, 1, 10), (5, 1, 10)]
    assert all(call.scratch_optional and call.scratch_bytes == scratch_bytes(
        call.params["channels"], call.params["k_h"], call.params["k_w"], 0, 1, call.params["out_w"],
        call.params["stride_w"]) for call in band)
    bound = plan_memory(model.steps, model.graph.inputs, model.graph.outputs, optional=())
    assert model.plan.arena_bytes == bound.arena_bytes


DW_BUFFER_SIZE_MAIN = r"""
#include <stdio.h>
#include "tinyengine.h"
int main(int argc, char **argv)
{
    for (int i = 1; i + 6 < argc; i += 7) {
        te_dw_params p = {0};
        sscanf(argv[i], "%hd", &p.k_h);
        sscanf(argv[i + 1], "%hd", &p.k_w);
        sscanf(argv[i + 2], "%hd", &p.channels);
        sscanf(argv[i + 3], "%hd", &p.flags);
        sscanf(argv[i + 4], "%hd", &p.band);
        sscanf(argv[i + 5], "%hd", &p.out_w);
        sscanf(argv[i + 6], "%hd", &p.stride_w);
        p.stride_h = p.stride_w;
        printf("%d ", (int)te_depthwise_conv_s8_fast_get_buffer_size(&p));
    }
    return 0;
}
"""


def test_scratch_size_equals_the_kernels(tmp_path):
    """scratch_bytes (the optional scratch's size) is te_depthwise_conv_s8_fast_get_buffer_size."""
    main = tmp_path / "main.c"
    main.write_text(DW_BUFFER_SIZE_MAIN)
    exe = tmp_path / "sizes"
    sources = [C_SOURCE_DIR / "kernels" / f for f in ("depthwise_conv_s8_fast.c", "depthwise_conv_s8_mve.c")]
    subprocess.run(["gcc", *WARNINGS, "-O2", "-I", str(C_INCLUDE_DIR), str(main), *map(str, sources), "-o", str(exe)],
                   check=True)
    cases = [(k, k, c, 0, 0, 9, 1) for k in (3, 5, 7) for c in (3, 4, 7, 8, 144, 481)]
    cases += [(3, 3, 16, FLAG_SIGNED, 0, 9, 1), (5, 5, 8, FLAG_EXACT, 0, 9, 1), (3, 5, 8, 0, 0, 9, 1),
              (4, 4, 8, 0, 0, 9, 1), (1, 1, 8, 0, 0, 9, 1), (3, 1, 8, 0, 0, 9, 1)]
    # Listed blocks: the wide blocks with right 0 only, the band with right 0 or -1 too.
    cases += [(3, 3, 16, FLAG_SHIFT_1, 0, 9, 1), (7, 7, 8, FLAG_SHIFT_0, 0, 9, 1), (5, 5, 8, FLAG_CLAMP, 0, 9, 1),
              (3, 3, 8, FLAG_SHIFT_1 | FLAG_SHIFT_0, 1, 8, 1), (5, 5, 8, FLAG_SHIFT_1 | FLAG_EXACT, 1, 8, 1)]
    # The band (3x3 and 5x5 of stride 1, 7x7 of stride 2, rows of at least 4 outputs): channel
    # counts and row widths.
    cases += [(3, 3, c, 0, 1, w, 1) for c in (1, 2, 5, 9, 480) for w in (4, 5, 8, 9, 40)]
    cases += [(k, k, c, 0, 1, w, s) for k, s in ((5, 1), (7, 2)) for c in (3, 8) for w in (4, 7, 10)]
    # Where it does not apply: the wide blocks (or nothing).
    cases += [(3, 3, 8, FLAG_SIGNED, 1, 8, 1), (5, 5, 8, 0, 1, 3, 1), (3, 3, 8, 0, 1, 3, 1), (3, 3, 8, 0, 1, 8, 2),
              (7, 7, 8, 0, 1, 8, 1), (7, 7, 3, 0, 1, 8, 2)]
    args = [str(v) for case in cases for v in case]
    got = [int(v) for v in subprocess.run([str(exe), *args], capture_output=True, text=True, check=True).stdout.split()]
    assert got == [scratch_bytes(c, k_h, k_w, f, band, w, s) for k_h, k_w, c, f, band, w, s in cases]
    assert sum(map(bool, got)) == 15 + 2 + 25 + 12 + 5
    assert got[-6:] == [0, 4 * 2 * wide_words(5), 4 * 2 * wide_words(3), 4 * 2 * wide_words(3),
                        4 * 2 * wide_words(7), 4 * 3 * band_words(7) + 4 * 7 * 3 * band_cols(8, 7, 2)]
    assert got[24:29] == [4 * 4 * wide_words(3), 0, 0, 4 * 8 * band_words(3) + 4 * 3 * 8 * band_cols(8, 3, 1), 0]


def block_words(p: dict) -> int:
    return 4 + p["k_h"] * (2 * (p["k_w"] // 2) + p["k_w"] % 2) + 5


def block_list(p: dict) -> list[int] | None:
    """The blocks listed after the last one (requantised in C), or None where there is no list."""
    words = p["blocks"].values[-(-p["channels"] // 4) * block_words(p):]
    if not words:
        return None
    assert words[-1] == -1 and -1 not in words[:-1]
    return list(words[:-1])


def block_fields(p: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The `blocks` words of a call split per block of 4 channels: biases, weight bytes,
    multipliers, rights."""
    row_bytes = 4 * (2 * (p["k_w"] // 2) + p["k_w"] % 2)
    blocks = -(-p["channels"] // 4)
    words = np.array(p["blocks"].values[:blocks * block_words(p)], dtype="<i4")
    raw = words.view(np.uint8).reshape(blocks, -1)
    assert raw.shape[1] == 16 + p["k_h"] * row_bytes + 20  # no more than TFLite's own parameters
    weights_end = 16 + p["k_h"] * row_bytes
    return (raw[:, :16].copy().view("<i4"), raw[:, 16:weights_end].view(np.int8),
            raw[:, weights_end:weights_end + 16].copy().view("<i4"), raw[:, weights_end + 16:].view(np.int8))


def test_blocks_hold_tflite_parameters():
    """Per block the layer's own biases, int8 weights and per-channel multipliers, and the
    shifts as right = -shift - 1: compared with the TFLite model's tensors and
    quantize_multipliers, on a layer whose channel count is not a multiple of 4."""
    rng = np.random.default_rng(5)
    b = ModelBuilder()
    add_depthwise(b, rng, "dw", h=5, w=6, c=7, k=(5, 3), out_zp=-128)
    model = compile_model(b.finish())
    p = model.kernel_calls[0].params
    op = next(o for o in model.graph.operators if o.type == "DEPTHWISE_CONV_2D")
    x, w, bias = op.inputs[:3]
    y = op.outputs[0]
    real = float(np.float32(x.quant.s)) * w.quant.scale.astype(np.float64) / float(np.float32(y.quant.s))
    mult, shift = quantize_multipliers(real)
    biases, packed, mults, rights = block_fields(p)
    assert biases.reshape(-1)[:7].tolist() == bias.data.tolist() and not biases.reshape(-1)[7:].any()
    assert mults.reshape(-1)[:7].tolist() == mult.tolist()
    assert rights.reshape(-1)[:7].tolist() == [1 if m == 0 else -s - 1 for m, s in zip(mult, shift)]
    assert (packed == pack_rows(w.data.reshape(15, 7), 5, 3)).all()
    assert sorted(packed.reshape(-1).tolist()) == sorted(w.data.reshape(-1).tolist() + [0] * 15)


def test_pack_rows_order():
    """Per block of 4 channels and kernel row: per pair of columns (a, b) the bytes c0a c1a c0b
    c1b, c2a c3a c2b c3b, then the last column of an odd width as c0 c1 c2 c3."""
    k_h, k_w, channels = 2, 5, 6
    w = (np.arange(k_h * k_w * channels) - 60).reshape(k_h * k_w, channels).astype(np.int8)
    packed = pack_rows(w, k_h, k_w)
    assert packed.shape == (2, k_h * 20) and packed.dtype == np.int8
    for block in range(2):
        def tap(ky, kx, j):
            c = block * 4 + j
            return w[ky * k_w + kx, c] if c < channels else 0
        for ky in range(k_h):
            row = packed[block, ky * 20:(ky + 1) * 20].tolist()
            for pair in range(2):
                a, b_ = 2 * pair, 2 * pair + 1
                assert row[8 * pair:8 * pair + 8] == [tap(ky, a, 0), tap(ky, a, 1), tap(ky, b_, 0), tap(ky, b_, 1),
                                                      tap(ky, a, 2), tap(ky, a, 3), tap(ky, b_, 2), tap(ky, b_, 3)]
            assert row[16:] == [tap(ky, 4, j) for j in range(4)]


def test_listed_blocks_follow_the_last():
    """The whole blocks holding a channel whose right the assembly does not take (from RIGHT_MIN to
    RIGHT_MAX) follow the last block, ascending, then -1; the flags say which rights there are.
    A last block of fewer than 4 channels is never listed (C requantises it anyway); a layer
    whose every right the assembly takes has no list."""
    expected = {"3x3_listed_first_middle_last_c15": (FLAG_SHIFT_1 | FLAG_SHIFT_0 | FLAG_EXACT, [0, 1, 2]),
                "3x3_listed_middle_stride2_fused_pad_c12": (FLAG_SHIFT_1, [1]),
                "3x3_listed_c3": (FLAG_EXACT, []),
                "5x5_listed_partial_block_alone_stride2_c9": (FLAG_EXACT, []),
                "7x7_listed_middle_last_c12": (FLAG_SHIFT_1 | FLAG_EXACT, [1, 2]),
                "3x3_listed_and_signed_c8": (FLAG_SHIFT_1 | FLAG_SIGNED, [0]),
                "3x3_unrolled_c20": (0, None)}
    for name, (flags, listed) in expected.items():
        b = ModelBuilder()
        add_depthwise(b, np.random.default_rng(sum(map(ord, name))), "dw", **CASES[name])
        p = compile_model(b.finish()).kernel_calls[0].params
        assert (p["flags"], block_list(p)) == (flags, listed), name
