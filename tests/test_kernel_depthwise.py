"""te_depthwise_conv_s8_fast (portable path, host) against TFLite's reference kernels, its
requantisation records against gemmlowp's arithmetic, and which layers it takes."""

from __future__ import annotations

import numpy as np
import pytest

from platformio_tinyengine.lowering.depthwise import pack_filter, requant_records
from platformio_tinyengine.pipeline import compile_model
from platformio_tinyengine.quantization import multiply_by_quantized_multiplier
from tests.kernel_check import assert_bit_exact, bias_for, scale, weights
from tests.model_builder import ModelBuilder

SAME, VALID = 0, 1
FAST, GENERIC = "te_depthwise_conv_s8_fast", "te_depthwise_conv_s8"

# Shapes the fast kernel treats specially: interior windows of 3x3, 5x5 and 7x7 (unrolled),
# windows clipped on every side (SAME, a fused asymmetric PAD, maps smaller than the kernel),
# channels not a multiple of 4 (the scalar tail after the 4-channel blocks), odd sizes,
# stride 2, non-square kernels (the general loop), extreme input zero points, activation
# clamps, per-channel scales giving negative, zero and positive shifts, a dead channel's bias
# near INT32_MIN.
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
    "3x3_no_bias_c5": dict(h=5, w=4, c=5, k=(3, 3), with_bias=False),
}


def out_size(n: int, k: int, s: int, padding: int) -> int:
    return (n + s - 1) // s if padding == SAME else (n - k + s) // s


def weight_scales(rng: np.random.Generator, c: int, shifts: str, s_in: float, s_out: float) -> np.ndarray:
    if shifts != "mixed":
        return np.array([scale(rng, 0.001, 0.02) for _ in range(c)], np.float32)
    # Effective scales s_in * s_w / s_out from 1/1000 to 6: shifts from -9 to 3, and 0.
    effective = np.array([0.001, 0.6, 1.5, 6.0, 0.75, 0.02, 3.0, 0.3])[np.arange(c) % 8]
    return (effective * s_out / s_in).astype(np.float32)


def add_depthwise(b: ModelBuilder, rng: np.random.Generator, name: str, h: int, w: int, c: int, k=(3, 3),
                  stride=1, padding=SAME, zp=None, activation=0, pad_op=None, batch=1, shifts="",
                  dead_bias=False, with_bias=True) -> tuple[int, tuple]:
    """An input -> [PAD ->] DEPTHWISE_CONV_2D -> output branch; returns its input and shape."""
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
    w_data = weights(rng, (1, k[0], k[1], c))
    w_data[0, 0, 0, : min(3, c)] = [-127, 127, -128][: min(3, c)]
    inputs = [conv_in, b.const(f"{name}_w", w_data, w_scales, 0, axis=3)]
    if with_bias:
        bias, bias_scales = bias_for(rng, c, s_in, w_scales)
        if dead_bias:
            bias[0] = -(1 << 31) + 5
            bias[-1] = (1 << 31) - 7
        inputs.append(b.const(f"{name}_b", bias, bias_scales, 0))
    y = b.tensor(f"{name}_y", (batch, out_size(ch, k[0], sh, padding), out_size(cw, k[1], sw, padding), c),
                 "int8", s_out, int(rng.integers(-128, 128)))
    b.op("DEPTHWISE_CONV_2D", inputs, [y], version=3, padding=padding, stride_h=sh, stride_w=sw,
         dilation_h_factor=1, dilation_w_factor=1, depth_multiplier=1, fused_activation_function=activation)
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


def test_patched_stage_bit_exact():
    """Patch-based inference rewrites the kernel's padding per tile, negative included."""
    rng = np.random.default_rng(41)
    b = ModelBuilder()
    x, _ = add_depthwise(b, rng, "dw", h=12, w=11, c=8, k=(5, 5), stride=1)
    model = b.finish()
    assert_bit_exact(model, rng, input_sets=1, patch="3x2@0")


@pytest.mark.parametrize("options", [dict(depth_multiplier=2), dict(dilation=2), dict(left_shift=11)],
                         ids=["depth_multiplier_2", "dilation_2", "left_shift_11"])
def test_generic_kernel_where_the_fast_one_does_not_apply(options):
    """depth multiplier, dilation, and a scale so large that the scaled weights overflow int16."""
    rng = np.random.default_rng(9)
    b = ModelBuilder()
    cin = 3
    cout = cin * options.get("depth_multiplier", 1)
    d = options.get("dilation", 1)
    s_in, s_out = 0.05, 0.05
    x = b.input("x", (1, 7, 7, cin), "int8", s_in, 3)
    w_scales = np.full(cout, 2.0 ** options.get("left_shift", -8) if "left_shift" in options else 0.01, np.float32)
    wt = b.const("w", weights(rng, (1, 3, 3, cout)), w_scales, 0, axis=3)
    bias, bias_scales = bias_for(rng, cout, s_in, w_scales)
    y = b.tensor("y", (1, 7, 7, cout), "int8", s_out, -2)
    b.op("DEPTHWISE_CONV_2D", [x, wt, b.const("b", bias, bias_scales, 0)], [y], version=3, padding=SAME,
         stride_h=1, stride_w=1, dilation_h_factor=d, dilation_w_factor=d,
         depth_multiplier=options.get("depth_multiplier", 1))
    b.output(y)
    model = b.finish()
    assert [c.kernel for c in compile_model(model).kernel_calls] == [GENERIC]
    assert_bit_exact(model, rng, input_sets=1)


def record_requantize(acc: int, record: np.ndarray) -> int:
    """dw_requantize in Python integers: the high word of acc * multiplier + nudge[acc < 0],
    shifted right (acc already scaled by the channel's factor)."""
    lo, hi = (int(record[2]), int(record[3])) if acc < 0 else (int(record[0]), int(record[1]))
    nudge = (hi << 32) | (lo & 0xFFFFFFFF)
    return ((acc * int(record[4]) + nudge) >> 32) >> int(record[5])


def test_requant_records_equal_gemmlowp():
    """Every shift from -31 to 7, multipliers at and between their extremes, accumulators over
    the whole range each channel's weights allow, edge values included."""
    rng = np.random.default_rng(1)
    shifts = np.arange(-31, 8)
    mults = np.concatenate([[1 << 30, (1 << 31) - 1, 0], rng.integers(1 << 30, 1 << 31, size=shifts.size - 3)])
    mults = np.resize(mults, shifts.size)
    taps = 9
    w = rng.integers(-128, 128, size=(taps, shifts.size)).astype(np.int64)
    bias = rng.integers(-50_000, 50_000, size=shifts.size)
    records, factors = requant_records(mults, shifts, bias, w, input_offset=-5)
    assert np.all(records[:, 6] == bias * factors)
    reach = 133 * np.abs(w).sum(axis=0)
    for c in range(shifts.size):
        accs = np.concatenate([rng.integers(bias[c] - reach[c], bias[c] + reach[c] + 1, size=400),
                               bias[c] + np.array([-reach[c], -1, 0, 1, reach[c]])])
        if shifts[c] < 0:  # no factor: the accumulator may be anything an int32 holds
            accs = np.concatenate([accs, [-(1 << 31), (1 << 31) - 1, -1, 0, 1 << 20, -(1 << 20) - 1]])
        for acc in accs.tolist():
            want = multiply_by_quantized_multiplier(acc, int(mults[c]), int(shifts[c]))
            assert record_requantize(acc * int(factors[c]), records[c]) == want, (c, acc)


def test_requant_records_refuse_overflowing_scales():
    w = np.full((9, 1), 127, np.int64)
    assert requant_records(np.array([1 << 30]), np.array([8]), np.array([0]), w, 0) is None  # w * 512 > int16
    assert requant_records(np.array([1 << 30]), np.array([4]), np.array([(1 << 31) - 1000]), w, 0) is None


def test_pack_filter_order():
    w = np.arange(2 * 6).reshape(2, 6) - 6  # 2 taps, 6 channels: one full block, one padded block
    words = pack_filter(w, np.ones(6, np.int64)).astype(np.int64) & 0xFFFFFFFF
    halves = np.stack([words & 0xFFFF, words >> 16], axis=-1).astype(np.uint16).astype(np.int16)
    assert halves.shape == (2, 2, 2, 2)  # block, tap, word, half
    for block in range(2):
        for tap in range(2):
            got = halves[block, tap].reshape(-1)  # channels 0, 2, 1, 3 of the block
            want = [w[tap, block * 4 + j] if block * 4 + j < 6 else 0 for j in (0, 2, 1, 3)]
            assert got.tolist() == want
