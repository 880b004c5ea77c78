"""The fast paths of the convolutions and ADD on the host (portable C): te_conv_1x1_s8 and the
im2col GEMM of te_conv_s8 (te_gemm_s8.h), the one-SMLAL requantisation (te_requant_* in
te_fixedpoint.h) and te_add_s8's row walk, byte for byte against TFLite's reference kernels, on
the shapes and parameters each path treats specially. tests/test_qemu_conv.py runs the same
models through the Arm DSP paths on the simulated cores."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from platformio_tinyengine.lowering.conv import (CONV_COLUMN_MAX, GEMM_BLOCK_HALVES,
                                                 GEMM_SCRATCH_HALVES, POINTWISE_MAX_IN_C, conv_s8_scratch_bytes,
                                                 gemm_blocks, gemm_fast_rows, gemm_filter_layout, gemm_fused,
                                                 gemm_scratch_bytes)
from platformio_tinyengine.memory.planner import plan_memory
from platformio_tinyengine.lowering.elementwise import ADD_TABLE_BYTES, ADD_TABLE_MIN_ELEMENTS, add_table_bytes
from platformio_tinyengine.pipeline import CompiledModel, compile_model
from platformio_tinyengine.resources import C_INCLUDE_DIR, C_SOURCE_DIR
from tests.conftest import SHARED_MODELS, requires_shared_models
from tests.harness import HERE, WARNINGS, HostModel
from tests.kernel_check import assert_bit_exact, scale, weights
from tests.model_builder import ModelBuilder
from tests.plan_checker import check_plan
from tests.reference import run_reference
from tests.test_sanitizers import SANITIZE

SAME, VALID = 0, 1
REQUANT_CHECK = HERE / "harness" / "requant_check.c"


def out_size(n: int, k: int, s: int, d: int, padding: int) -> int:
    return (n + s - 1) // s if padding == SAME else (n - (k - 1) * d - 1 + s) // s


def add_conv(b: ModelBuilder, rng: np.random.Generator, name: str, x: int, in_shape, cout: int, k: int = 1,
             stride: int = 1, dilation: int = 1, padding: int = SAME, activation: int = 0,
             scales: str = "normal", out_zp: int | None = None, general: int = 0) -> tuple[int, tuple]:
    """A CONV_2D on tensor x; scales picks the effective scales s_in * s_w / s_out:
    normal (below 1/4: te_requant_fast everywhere), mixed: per channel from below 2^-24 to
    above 1 (left shifts, e = 1, e = 0 and the unfolded offset), so that one layer takes every
    requantisation path, or fast_ends: every channel te_gemm_requant's, at both ends of its
    right shifts (1 and TE_GEMM_REQUANT_MAX_RIGHT) and between. With normal scales, `general`
    channels spread from the first to the last (adjacent where many) take scales
    te_gemm_requant does not: right shifts -1, -1 (the assembly's runs of their own) and 0 and a
    left shift (C), in turn (a right shift past 23 makes so small a layer's channel constant:
    channel_requantisation rewrites it)."""
    n, h, w, cin = in_shape
    s_in = b.tensors[x].quantization.scale[0]
    if scales == "normal":
        w_scales = np.array([scale(rng, 0.001, 0.02) for _ in range(cout)], np.float32)
        s_out = scale(rng, 0.02, 0.5)
        rows = np.unique(np.linspace(0, cout - 1, general).round().astype(int))
        assert len(rows) == general
        exponents = np.resize(np.array([-0.5, -0.5, -1.5, 0.3]), general)
        w_scales[rows] = (s_out / s_in * 2.0 ** exponents).astype(np.float32)
    else:
        s_out = 0.05
        ends = [-2.5, -24.5, -2.1, -24.1, -11.3] if scales == "fast_ends" else [-27.0, -24.5, -9.0, -1.7, -1.0,
                                                                                 -0.4, 0.3, 2.5]
        exponents = np.resize(np.array(ends), cout)
        w_scales = (s_out / s_in * 2.0 ** exponents).astype(np.float32)
    wt = b.const(f"{name}_w", weights(rng, (cout, k, k, cin)), w_scales, 0, axis=0)
    bias = b.const(f"{name}_b", rng.integers(-3000, 3000, size=cout).astype(np.int32), np.float32(s_in) * w_scales, 0)
    oh, ow = out_size(h, k, stride, dilation, padding), out_size(w, k, stride, dilation, padding)
    zp = int(rng.integers(-128, 128)) if out_zp is None else out_zp
    y = b.tensor(f"{name}_y", (n, oh, ow, cout), "int8", s_out, zp)
    b.op("CONV_2D", [x, wt, bias], [y], version=3, padding=padding, stride_h=stride, stride_w=stride,
         dilation_h_factor=dilation, dilation_w_factor=dilation, fused_activation_function=activation)
    return y, (n, oh, ow, cout)


def conv_case_model(rng: np.random.Generator, shape, cout: int, zp_in: int | None = None, **conv) -> bytes:
    b = ModelBuilder()
    x = b.input("x", shape, "int8", scale(rng, 0.01, 0.1), int(rng.integers(-128, 128)) if zp_in is None else zp_in)
    y, _ = add_conv(b, rng, "c", x, shape, cout, **conv)
    b.output(y)
    return b.finish()


def extreme_inputs(model: bytes, fill: int) -> list[list[np.ndarray]]:
    return [[np.full(t.shape, fill, np.int8) for t in compile_model(model).graph.inputs]]


# Pointwise: pixel counts leaving blocks of 2 and 1 after the blocks of 4, more than 16 output
# channels (several groups), input channels not a multiple of 4 (a zero-padded last chunk) or of
# 8 (an odd chunk count), fewer than 4 (one partial chunk), past 256 (blocks of 2 pixels) and
# past 512 (blocks of 1).
POINTWISE_CASES = {
    "odd_pixels_cin_7_cout_5": dict(shape=(1, 3, 5, 7), cout=5),
    "cin_1": dict(shape=(1, 2, 3, 1), cout=4),
    "cin_3_cout_1": dict(shape=(1, 1, 3, 3), cout=1),
    "cin_4_one_pixel": dict(shape=(1, 1, 1, 4), cout=3),
    "cin_12_cout_33": dict(shape=(1, 3, 3, 12), cout=33),
    "cin_13_cout_17": dict(shape=(1, 5, 1, 13), cout=17),
    "cin_20_cout_16": dict(shape=(1, 2, 2, 20), cout=16),
    "cin_48_relu6_clamped": dict(shape=(1, 3, 3, 48), cout=8, activation=3),
    "relu_clamped": dict(shape=(1, 4, 4, 16), cout=6, activation=1),
    "mixed_shifts": dict(shape=(1, 3, 3, 9), cout=8, scales="mixed"),
    "mixed_shifts_relu6": dict(shape=(1, 3, 3, 16), cout=11, scales="mixed", activation=3),
    "batch_2": dict(shape=(2, 3, 1, 6), cout=3),
    "cin_300_blocks_4_2_1": dict(shape=(1, 1, 7, 300), cout=5),
    "cin_516_blocks_of_2": dict(shape=(1, 1, 5, 516), cout=6),
    "cin_604_blocks_of_2": dict(shape=(1, 3, 1, 604), cout=3, activation=1),
    # The fused rows (every channel fast, int8 range) take 1 to 5 chunks above, 6 here; the
    # grouped rows (other channels or a narrower range) three groups, the last one partial.
    "cin_21_cout_19": dict(shape=(1, 3, 3, 21), cout=19),
    "fast_right_1_and_23": dict(shape=(1, 3, 3, 14), cout=10, scales="fast_ends"),
    # Rows of 8 chunks (one pass of the blocks of 4's loop of 8) and of 9 (two passes).
    "cin_32_chunks_8": dict(shape=(1, 3, 3, 32), cout=5),
    "cin_33_chunks_9": dict(shape=(1, 3, 3, 33), cout=6),
    "mixed_shifts_cout_37": dict(shape=(1, 3, 3, 22), cout=37, scales="mixed"),
    "relu_cout_35": dict(shape=(1, 2, 3, 10), cout=35, activation=1),
    # Fused rows with channels between them that take the general output stage (first, middle,
    # last, adjacent), doubled sums and not, and more such channels than pay for the fused rows.
    "general_rows_4_of_20": dict(shape=(1, 3, 5, 12), cout=20, general=4),
    "general_rows_3_of_6_undoubled": dict(shape=(1, 3, 3, 96), cout=6, general=3, out_zp=5),
    "general_rows_10_of_40": dict(shape=(1, 2, 5, 8), cout=40, general=10),
    "general_rows_32_of_40": dict(shape=(1, 2, 5, 8), cout=40, general=32),
}

# te_conv_s8: windows of up to 1024 bytes take the im2col GEMM (blocks of 4, 2 and 1 pixels),
# larger ones the direct loop; padding on every side (SAME with odd and even sizes, stride 2),
# dilation.
CONV_CASES = {
    "rgb_3x3_stride2_first_layer": dict(shape=(1, 9, 11, 3), cout=16, k=3, stride=2),
    "rgb_3x3_stride2_even": dict(shape=(1, 8, 8, 3), cout=8, k=3, stride=2, activation=3),
    "3x3_same_pad_every_side": dict(shape=(1, 5, 6, 4), cout=7, k=3),
    "5x5_same_cin_2": dict(shape=(1, 6, 5, 2), cout=3, k=5),
    "window_144_bytes": dict(shape=(1, 4, 5, 16), cout=5, k=3),
    "window_153_bytes": dict(shape=(1, 4, 4, 17), cout=3, k=3),
    "window_576_bytes_blocks_of_2": dict(shape=(1, 4, 3, 64), cout=6, k=3, stride=2),
    "window_1026_bytes_direct": dict(shape=(1, 3, 3, 114), cout=3, k=3),
    "dilation_2": dict(shape=(1, 7, 7, 3), cout=4, k=3, dilation=2),
    "valid_stride2": dict(shape=(1, 9, 9, 3), cout=6, k=3, stride=2, padding=VALID),
    "1x1_stride_2": dict(shape=(1, 5, 5, 6), cout=4, k=1, stride=2),
    "relu": dict(shape=(1, 5, 5, 3), cout=5, k=3, activation=1),
    "mixed_shifts": dict(shape=(1, 5, 4, 3), cout=8, k=3, scales="mixed"),
    "batch_2_stride2": dict(shape=(2, 5, 5, 3), cout=4, k=3, stride=2),
}


# Blocks of 6 pixels (layers with fused rows: no activation, te_gemm_requant on every channel):
# pixel counts 6k and 6k + 1 .. 6k + 5 (tails of 4, 2 and 1; 9 left as 4, 4 and 1), rows of 1 to 8
# chunks (one pass entered at each of the 8 bodies) and of 9 to 17 (the loop to the columns' end,
# entered at each body), the largest column that takes them (85 chunks), both ends of the right
# shift, output zero points -128 and 127, and te_conv_s8's im2col columns through the same rows.
GEMM6_POINTWISE_CASES = {
    f"px{h * w}_cin{cin}": dict(shape=(1, h, w, cin), cout=cout)
    for h, w, cin, cout in ((1, 6, 1, 3), (1, 7, 4, 5), (2, 4, 7, 4), (3, 3, 12, 3), (2, 5, 16, 6), (1, 11, 19, 7),
                            (3, 4, 24, 2), (1, 13, 28, 5), (2, 7, 32, 3), (3, 5, 33, 4), (1, 16, 40, 3),
                            (1, 17, 44, 5), (2, 9, 45, 4), (1, 19, 52, 3), (4, 5, 56, 2), (3, 7, 59, 3), (2, 11, 64, 2),
                            (1, 23, 68, 3), (5, 5, 340, 3))
}
GEMM6_POINTWISE_CASES.update({
    "batch_2_px_14": dict(shape=(2, 7, 1, 10), cout=5),
    "fast_right_1_and_23": dict(shape=(1, 2, 7, 14), cout=10, scales="fast_ends"),
    "out_zp_minus_128": dict(shape=(1, 3, 5, 20), cout=6, out_zp=-128),
    "out_zp_127": dict(shape=(1, 4, 4, 9), cout=7, out_zp=127),
    "general_rows_px13": dict(shape=(1, 13, 1, 24), cout=9, general=3),
    "general_rows_px17_out_zp_minus_128": dict(shape=(1, 17, 1, 20), cout=12, general=5, out_zp=-128),
})
GEMM6_CONV_CASES = {
    "rgb_3x3_stride2_px25": dict(shape=(1, 10, 10, 3), cout=16, k=3, stride=2),
    "rgb_3x3_general_rows": dict(shape=(1, 10, 10, 3), cout=16, k=3, stride=2, general=2),
    "3x3_cin_16_px16": dict(shape=(1, 4, 4, 16), cout=5, k=3),
    "1x1_stride2_px16": dict(shape=(1, 7, 7, 5), cout=4, k=1, stride=2),
    "5x5_cin_13_px12": dict(shape=(1, 3, 4, 13), cout=3, k=5),
    "batch_2_px_2x13": dict(shape=(2, 5, 13, 2), cout=4, k=3, padding=VALID),
}


def with_gemm_blocks(compiled: CompiledModel, narrow: bool) -> CompiledModel:
    """The model with every GEMM layer that has fused rows in blocks of 6 (as where the planner
    grants their scratch) or of at most 4 (as where it declines it), replanned."""
    for call in compiled.kernel_calls:
        if "gemm_narrow" in call.params and gemm_fused(call.params):
            column = call.params["in_c"] * call.params["k_h"] * call.params["k_w"]
            size = gemm_scratch_bytes if call.kernel == "te_conv_1x1_s8" else conv_s8_scratch_bytes
            call.params["gemm_narrow"], call.scratch_bytes = int(narrow), size(column, narrow)
    compiled.plan = plan_memory(compiled.steps, compiled.graph.inputs, compiled.graph.outputs)
    return compiled


@requires_shared_models
def test_planner_narrows_gemm_blocks_only_where_the_arena_grows():
    """Blocks of 6 take a larger scratch: on vww the planner keeps it on the layers where the
    arena holds and narrows the others to blocks of at most 4 (their smaller scratch,
    gemm_narrow): the arena of blocks of at most 4 everywhere."""
    compiled = compile_model(SHARED_MODELS / "vww.tflite")
    gemm = [c for c in compiled.kernel_calls if "gemm_narrow" in c.params]
    narrowed = [c for c in gemm if c.scratch_declined]
    wide = [c for c in gemm if c.params["gemm_narrow"] == 0]
    assert narrowed and len(wide) >= 20
    for call in narrowed:
        column = call.params["in_c"] * call.params["k_h"] * call.params["k_w"]
        size = gemm_scratch_bytes if call.kernel == "te_conv_1x1_s8" else conv_s8_scratch_bytes
        assert (call.params["gemm_narrow"], call.scratch_bytes, call.scratch_declined) == \
            (1, size(column, True), size(column))
    check_plan(compiled)
    arena = compiled.plan.arena_bytes
    assert with_gemm_blocks(compiled, narrow=True).plan.arena_bytes == arena


def gemm6_case_model(name: str, rng: np.random.Generator) -> bytes:
    case = {**GEMM6_POINTWISE_CASES, **GEMM6_CONV_CASES}[name]
    return conv_case_model(rng, **case)


@pytest.mark.parametrize("narrow", [False, True], ids=["blocks_of_6", "blocks_of_4"])
@pytest.mark.parametrize("case", [*GEMM6_POINTWISE_CASES, *GEMM6_CONV_CASES])
def test_gemm_blocks_of_6(case, narrow, tmp_path):
    rng = np.random.default_rng(len(case) + 500)
    model = gemm6_case_model(case, rng)
    compiled = with_gemm_blocks(compile_model(model), narrow)
    (call,) = compiled.kernel_calls
    assert call.kernel == ("te_conv_1x1_s8" if case in GEMM6_POINTWISE_CASES else "te_conv_s8")
    assert gemm_fused(call.params)
    check_plan(compiled)
    host = HostModel(model, tmp_path, compiled=compiled)
    inputs = [[rng.integers(-128, 128, size=t.shape, dtype=np.int8) for t in compiled.graph.inputs] for _ in range(2)]
    for ins, got in zip(inputs, host.run(inputs)):
        np.testing.assert_array_equal(got[0], run_reference(model, ins)[0].reshape(got[0].shape))


# The doubled sums' fit (lowering/conv.py gemm_doubled) at its edge: channel 0's accumulator
# reaches 2^30 - 1 or -2^30 at its extreme input (inside: the layer doubles) or one past it
# (outside: today's form), pointwise in blocks of 6, 2 and 1 (15 pixels; rows of 2 chunks, and
# of 10: the loops past the first 8) and the first layer's im2col, output zero points -128 (no
# sign term), 127 and others, right shifts 1 to 22, and effective scales near 2^-23.5 so that
# the extreme accumulators still requantise inside int8. With right shift 23 on channel 0
# (scale 2^-24.5) the start value (2 zp + 1) 2^23 plus SMMLAR's high word overflows int32 at
# such accumulators for zero points 127 and -128 (today's form), not at small ones ("mid": no
# bias; vww's first layer).
DOUBLED_EDGE_CASES = {
    f"{kind}_cin{cin}_{side}_{edge}_zp{out_zp}_right{right}": dict(kind=kind, cin=cin, side=side, edge=edge,
                                                                   out_zp=out_zp, right=right)
    for kind, cin, side, edge, out_zp, right in (
        ("pointwise", 8, "high", "inside", -128, 22), ("pointwise", 8, "high", "outside", -128, 22),
        ("pointwise", 8, "low", "inside", 127, 22), ("pointwise", 8, "low", "outside", 127, 22),
        ("pointwise", 8, "high", "inside", 5, 22), ("pointwise", 40, "low", "inside", -128, 22),
        ("pointwise", 40, "high", "inside", -7, 22), ("rgb", 3, "low", "inside", -128, 22),
        ("rgb", 3, "high", "outside", -3, 22), ("pointwise", 8, "high", "inside", 127, 23),
        ("pointwise", 8, "low", "inside", -128, 23), ("pointwise", 8, "mid", "inside", 127, 23))
}


def add_doubled_edge_branch(b: ModelBuilder, rng: np.random.Generator, name: str, kind: str, cin: int, side: str,
                            edge: str, out_zp: int, right: int) -> tuple[np.ndarray, int]:
    """A CONV_2D branch of DOUBLED_EDGE_CASES: its input (random pixels, the extreme one of channel
    0's side first) and whether its layer should double."""
    shape, k, cout = ((1, 3, 5, cin), 1, 24) if kind == "pointwise" else ((1, 6, 6, cin), 3, 16)
    zp_in = int(rng.integers(-128, 128))
    x = b.input(f"{name}_x", shape, "int8", 0.05, zp_in)
    w = weights(rng, (cout, k, k, shape[3]))
    rows = w.reshape(cout, -1).astype(np.int64)
    up, down = 127 - zp_in, -128 - zp_in
    bias = rng.integers(-3000, 3000, size=cout).astype(np.int64)
    if side == "mid":
        bias[0] = 0
        extreme = np.where(rows[0] > 0, 127, -128)
    elif side == "high":
        bias[0] = (1 << 30) - 1 - np.maximum(rows[0] * up, rows[0] * down).sum() + (edge == "outside")
        extreme = np.where(rows[0] > 0, 127, -128)
    else:
        bias[0] = -(1 << 30) - np.minimum(rows[0] * up, rows[0] * down).sum() - (edge == "outside")
        extreme = np.where(rows[0] > 0, -128, 127)
    # Right shifts from 1 (channels 1..) to 22 (channel 0, the one at the edge) or 23.
    exponents = np.concatenate([[-1.5 - right], np.linspace(-2.2, -22.8, cout - 1)])
    w_scales = (0.05 / 0.05 * 2.0 ** exponents).astype(np.float32)
    wt = b.const(f"{name}_w", w, w_scales, 0, axis=0)
    bt = b.const(f"{name}_b", bias.astype(np.int32), np.float32(0.05) * w_scales, 0)
    out_hw = shape[1:3] if kind == "pointwise" else (3, 3)
    y = b.tensor(f"{name}_y", (1, *out_hw, cout), "int8", 0.05, out_zp)
    stride = 1 if kind == "pointwise" else 2
    b.op("CONV_2D", [x, wt, bt], [y], version=3, padding=SAME, stride_h=stride, stride_w=stride,
         dilation_h_factor=1, dilation_w_factor=1, fused_activation_function=0)
    b.output(y)
    pixels = rng.integers(-128, 128, size=shape, dtype=np.int8)
    # The extreme input: every tap of the first output pixel's window (SAME padding of 6 by
    # stride 2 pads only after the image).
    if kind == "pointwise":
        pixels[0, 0, 0] = extreme
    else:
        pixels[0, :3, :3] = extreme.reshape(3, 3, 3)
    return pixels, int(edge == "inside" and (right < 23 or side == "mid"))


def doubled_edge_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray], list[str], list[int]]:
    """Every DOUBLED_EDGE_CASES branch in one model: the model, its inputs, output names and the
    gemm_double each layer should take."""
    b = ModelBuilder()
    inputs, doubled = [], []
    for name, case in DOUBLED_EDGE_CASES.items():
        pixels, double = add_doubled_edge_branch(b, rng, name, **case)
        inputs.append(pixels)
        doubled.append(double)
    return b.finish(), inputs, list(DOUBLED_EDGE_CASES), doubled


def test_doubled_sums_at_the_fit_bound(tmp_path):
    """Layers just inside the doubled sums' bound take gemm_double (bias doubled), layers just
    outside keep today's form; both bit-exact at the extreme accumulator and elsewhere."""
    rng = np.random.default_rng(2030)
    model, inputs, _, doubled = doubled_edge_model(rng)
    compiled = compile_model(model)
    assert [c.params["gemm_double"] for c in compiled.kernel_calls] == doubled
    assert [c.kernel for c in compiled.kernel_calls] == \
        [{"pointwise": "te_conv_1x1_s8", "rgb": "te_conv_s8"}[c["kind"]] for c in DOUBLED_EDGE_CASES.values()]
    for call, double in zip(compiled.kernel_calls, doubled):
        assert gemm_fused(call.params)
        folded = np.array(call.params["bias"].values, np.int64)
        assert (folded % 2 == 0).all() or not double
    host = HostModel(model, tmp_path, compiled=compiled)
    sets = [inputs, [rng.integers(-128, 128, size=x.shape, dtype=np.int8) for x in inputs]]
    for ins, got in zip(sets, host.run(sets)):
        for i, (g, want) in enumerate(zip(got, run_reference(model, ins))):
            np.testing.assert_array_equal(g, want.reshape(g.shape), err_msg=list(DOUBLED_EDGE_CASES)[i])


def test_gemm_doubled_only_where_it_pays():
    """The doubled form costs two SADD16 per 4 input bytes of every pixel and saves 2 instructions
    per output (3 with the output zero point -128): vww's expand layers take it, its widest
    projections do not."""
    rng = np.random.default_rng(5)
    cheap = compile_model(conv_case_model(rng, shape=(1, 4, 4, 16), cout=48, out_zp=-128)).kernel_calls[0]
    dear = compile_model(conv_case_model(rng, shape=(1, 4, 4, 96), cout=16, out_zp=3)).kernel_calls[0]
    clamped = compile_model(conv_case_model(rng, shape=(1, 4, 4, 16), cout=48, activation=1,
                                            out_zp=0)).kernel_calls[0]
    assert (cheap.params["gemm_double"], dear.params["gemm_double"], clamped.params["gemm_double"]) == (1, 0, 0)
    assert gemm_fused(dear.params) and not gemm_fused(clamped.params)


def test_general_rows_between_fused_rows():
    """Layers whose channels the fused rows' output stage does not take are at most a quarter
    of those that run one at a time in C (right -1 runs in the assembly) keep the fused rows
    (and blocks of 6, doubled sums where they pay) for the others, listed in gemm_rows; more and
    the layer takes the grouped rows. test_pointwise and the simulated cores check each against
    TFLite."""
    flags = {}
    for case in ("general_rows_4_of_20", "general_rows_3_of_6_undoubled", "general_rows_10_of_40",
                 "general_rows_32_of_40"):
        (call,) = compile_model(conv_case_model(np.random.default_rng(len(case) + 300),
                                                **POINTWISE_CASES[case])).kernel_calls
        general = np.flatnonzero(~gemm_fast_rows(call.params))
        listed = call.params["gemm_rows"]
        flags[case] = (len(general), gemm_fused(call.params), call.params["gemm_double"])
        assert listed == "NULL" or list(listed.values) == [*general, -1]
    assert flags == {"general_rows_4_of_20": (4, True, 1), "general_rows_3_of_6_undoubled": (3, True, 0),
                     "general_rows_10_of_40": (10, True, 1), "general_rows_32_of_40": (32, False, 0)}


@pytest.mark.parametrize("case", list(POINTWISE_CASES), ids=list(POINTWISE_CASES))
def test_pointwise(case):
    rng = np.random.default_rng(len(case) + 300)
    model = conv_case_model(rng, **POINTWISE_CASES[case])
    assert {c.kernel for c in compile_model(model).kernel_calls} == {"te_conv_1x1_s8"}
    assert_bit_exact(model, rng)


@pytest.mark.parametrize("case", list(CONV_CASES), ids=list(CONV_CASES))
def test_conv(case):
    rng = np.random.default_rng(len(case) + 400)
    model = conv_case_model(rng, **CONV_CASES[case])
    assert {c.kernel for c in compile_model(model).kernel_calls} == {"te_conv_s8"}
    assert_bit_exact(model, rng)


@pytest.mark.parametrize("zp_in,fill", [(-128, 127), (-128, -128), (127, -128), (127, 127)])
@pytest.mark.parametrize("kind", ["pointwise", "rgb"])
def test_extreme_zero_points_and_inputs(kind, zp_in, fill):
    """Input zero points -128 and 127 (the folded bias, the zero-point padding) with inputs at the
    ends of int8, where the accumulators are largest."""
    rng = np.random.default_rng(zp_in + fill + 1000)
    conv = dict(shape=(1, 3, 5, 67), cout=9) if kind == "pointwise" else dict(shape=(1, 7, 6, 3), cout=16, k=3,
                                                                              stride=2)
    model = conv_case_model(rng, zp_in=zp_in, **conv)
    assert_bit_exact(model, rng, inputs=extreme_inputs(model, fill))
    assert_bit_exact(model, rng, input_sets=1)


@pytest.mark.parametrize("kind", ["pointwise", "rgb"])
def test_dead_channel_biases_wrap(kind, tmp_path):
    """Biases at the ends of int32 (real models carry them on dead channels): the accumulators
    wrap as TFLite's do, with no undefined behaviour (AddressSanitizer and UBSan)."""
    rng = np.random.default_rng(77)
    b = ModelBuilder()
    shape = (1, 3, 5, 20) if kind == "pointwise" else (1, 5, 5, 3)
    x = b.input("x", shape, "int8", 0.05, -128)
    cout = 6
    w_scales = np.full(cout, 0.01, np.float32)
    wt = b.const("w", weights(rng, (cout, 1, 1, 20) if kind == "pointwise" else (cout, 3, 3, 3)), w_scales, 0)
    bias = np.array([-2**31, -2**31 + 5, 2**31 - 1, 2**31 - 600, -7, 1000], np.int32)
    bt = b.const("b", bias, np.float32(0.05) * w_scales, 0)
    y = b.tensor("y", shape[:3] + (cout,), "int8", 0.3, 3)
    b.op("CONV_2D", [x, wt, bt], [y], version=3, padding=SAME, stride_h=1, stride_w=1, dilation_h_factor=1,
         dilation_w_factor=1)
    b.output(y)
    model = b.finish()
    host = HostModel(model, tmp_path, extra_flags=SANITIZE)
    inputs = [[rng.integers(-128, 128, size=shape, dtype=np.int8)], [np.full(shape, 127, np.int8)]]
    for ins, got in zip(inputs, host.run(inputs)):
        np.testing.assert_array_equal(got[0], run_reference(model, ins)[0].reshape(got[0].shape))


def test_gemm_filter_layout():
    """Rows [k_h][k_w][in_c] in order, each zero-padded to a multiple of 4 bytes (the kernels'
    chunk): the same bytes, in the order the kernels read them."""
    rows = np.arange(3 * 6).reshape(3, 1, 1, 6)
    assert gemm_filter_layout(rows).tolist() == [0, 1, 2, 3, 4, 5, 0, 0, 6, 7, 8, 9, 10, 11, 0, 0,
                                                 12, 13, 14, 15, 16, 17, 0, 0]
    assert gemm_filter_layout(rows.reshape(3, 1, 1, 6)[:, :, :, :4]).tolist() == [0, 1, 2, 3, 6, 7, 8, 9,
                                                                                  12, 13, 14, 15]
    big = np.random.default_rng(0).integers(-127, 128, size=(7, 3, 3, 3))
    laid = gemm_filter_layout(big).reshape(7, 28)
    assert laid[:, :27].tolist() == big.reshape(7, 27).tolist() and not laid[:, 27].any()


def chain_model(rng: np.random.Generator) -> bytes:
    """3x3 convolution on RGB, 3x3 stride 2, pointwise, ADD of two pointwise branches."""
    b = ModelBuilder()
    shape = (1, 12, 12, 3)
    x = b.input("x", shape, "int8", scale(rng, 0.01, 0.1), -128)
    y0, s0 = add_conv(b, rng, "c0", x, shape, 8, k=3, activation=3)
    y1, s1 = add_conv(b, rng, "c1", y0, s0, 12, k=3, stride=2)
    y2, s2 = add_conv(b, rng, "c2", y1, s1, 12)
    y3, _ = add_conv(b, rng, "c3", y1, s1, 12, scales="mixed")
    out = b.tensor("sum", s2, "int8", scale(rng, 0.05, 0.3), int(rng.integers(-128, 128)))
    b.op("ADD", [y2, y3], [out], version=2)
    b.output(out)
    return b.finish()


def test_column_limit_matches_the_kernel():
    """The plan checker simulates te_conv_s8's im2col order for the windows conv_s8.c takes it for,
    in the GEMM's blocks of pixels (gemm_blocks), which depend on the scratch's size."""
    text = (C_SOURCE_DIR / "kernels" / "conv_s8.c").read_text()
    assert "#define TE_CONV_COLUMN_MAX (4 * TE_GEMM_MAX_CHUNKS)\n" in text
    header = (C_INCLUDE_DIR / "te_gemm_s8.h").read_text()
    assert f"#define TE_GEMM_SCRATCH_HALVES {GEMM_SCRATCH_HALVES}\n" in header
    assert "#define TE_GEMM_MAX_CHUNKS (TE_GEMM_SCRATCH_HALVES / 4)\n" in header
    assert "#define TE_GEMM_BLOCK_HALVES (2 * TE_GEMM_SCRATCH_HALVES)\n" in header
    assert CONV_COLUMN_MAX == GEMM_SCRATCH_HALVES and GEMM_BLOCK_HALVES == 2 * GEMM_SCRATCH_HALVES
    assert gemm_blocks(11, 144) == [6, 4, 1] and gemm_blocks(11, 144, narrow=True) == [4, 4, 2, 1]
    assert gemm_blocks(3, CONV_COLUMN_MAX) == [2, 1]
    assert gemm_blocks(9, 512) == [4, 4, 1] and gemm_blocks(9, 516) == [2, 2, 2, 2, 1]
    # Blocks of 6 up to 85 chunks; the last 9 pixels as 4, 4 and 1.
    assert gemm_blocks(10, 340) == [6, 4] and gemm_blocks(10, 341) == [4, 4, 2]
    assert gemm_blocks(15, 4) == [6, 4, 4, 1] and gemm_blocks(13, 4) == [6, 6, 1] and gemm_blocks(8, 3) == [6, 2]
    assert gemm_blocks(2, POINTWISE_MAX_IN_C) == [2]
    assert gemm_blocks(1, POINTWISE_MAX_IN_C + 1) == []


def test_pointwise_wider_than_the_scratch_runs_in_te_conv_s8():
    """More input channels than one column of te_gemm's scratch holds: te_conv_s8's direct loop."""
    rng = np.random.default_rng(31)
    model = conv_case_model(rng, shape=(1, 2, 1, POINTWISE_MAX_IN_C + 4), cout=3)
    assert {c.kernel for c in compile_model(model).kernel_calls} == {"te_conv_s8"}
    assert_bit_exact(model, rng)


def test_pointwise_in_place():
    """Each block of pixels is read whole before its outputs are written: with as many output
    channels as input channels, or fewer, the output may start at the input's offset (the plan
    checker replays the kernel's blocks)."""
    rng = np.random.default_rng(32)
    b = ModelBuilder()
    shape = (1, 5, 3, 24)
    x = b.input("x", shape, "int8", scale(rng, 0.01, 0.1), -3)
    y0, s0 = add_conv(b, rng, "c0", x, shape, 24)
    y1, s1 = add_conv(b, rng, "c1", y0, s0, 24)
    y2, _ = add_conv(b, rng, "c2", y1, s1, 16)
    b.output(y2)
    model = b.finish()
    compiled = compile_model(model)
    check_plan(compiled)
    calls = [c for c in compiled.kernel_calls if c.kernel == "te_conv_1x1_s8"]
    assert [o[1] for c in calls for o in c.overlaps] == [0, 0, 0]
    assert any(compiled.plan.offset(c.inputs[0]) == compiled.plan.offset(c.outputs[0]) for c in calls)
    assert_bit_exact(model, rng)


@pytest.mark.parametrize("patch", ["off", "3x3@1", "2x3@4"])
def test_patched_chain(patch):
    """Patch-based inference hands the window kernels paddings relative to each tile (negative,
    or larger than the kernel, at inner borders) and the pointwise kernel sub-tiles."""
    rng = np.random.default_rng(21)
    model = chain_model(rng)
    compiled = compile_model(model, patch=patch)
    assert (compiled.patch is not None) == (patch != "off")
    check_plan(compiled)
    assert_bit_exact(model, rng, patch=patch)


def add_binary_branch(b: ModelBuilder, rng: np.random.Generator, name: str, case: dict) -> None:
    """Inputs a and b -> ADD or SUB (case: op, shape1, shape2, and optional scales, zps,
    activation) -> an output; with `widen`, the sum also feeds a 1x1 CONV_2D to 4 times its
    channels, a second output, so that the ADD is not the busiest step and te_add_s8's table
    does not raise the arena (else the planner drops it)."""
    s1, s2, so = case.get("scales") or (scale(rng), scale(rng), scale(rng, 0.05, 0.3))
    z1, z2, zo = case.get("zps") or (int(rng.integers(-128, 128)) for _ in range(3))
    x1 = b.input(f"{name}_a", case["shape1"], "int8", s1, z1)
    x2 = b.input(f"{name}_b", case["shape2"], "int8", s2, z2)
    shape = tuple(np.broadcast_shapes(case["shape1"], case["shape2"]))
    y = b.tensor(f"{name}_y", shape, "int8", so, zo)
    b.op(case["op"], [x1, x2], [y], version=2, fused_activation_function=case.get("activation", 0))
    b.output(y)
    if case.get("widen"):
        b.output(add_conv(b, rng, f"{name}_widen", y, shape, 4 * shape[-1])[0])


def add_model(rng: np.random.Generator, **case) -> bytes:
    b = ModelBuilder()
    add_binary_branch(b, rng, "add", case)
    return b.finish()


ADD_CASES = {
    "same_shape": dict(op="ADD", shape1=(1, 5, 5, 24), shape2=(1, 5, 5, 24)),
    "equal_scales_shift_0": dict(op="ADD", shape1=(1, 3, 3, 8), shape2=(1, 3, 3, 8), scales=(0.05, 0.05, 0.08)),
    "extreme_zero_points_relu6": dict(op="ADD", shape1=(1, 4, 4, 5), shape2=(1, 4, 4, 5), zps=(-128, 127, -128),
                                      activation=3),
    "broadcast_inner": dict(op="ADD", shape1=(1, 3, 4, 6), shape2=(1, 3, 4, 1)),
    "broadcast_outer": dict(op="ADD", shape1=(2, 3, 4), shape2=(4,)),
    "sub_negative_multiplier": dict(op="SUB", shape1=(1, 2, 7, 3), shape2=(1, 2, 7, 3)),
    "rank_1": dict(op="ADD", shape1=(17,), shape2=(17,)),
    # te_add_s8's common-case loop with the halved input second, and the cases it leaves to the
    # general loop: an output scale 50 times the inputs' (shift past the fast range) and input
    # scales 2^27 apart.
    "second_input_larger_scale": dict(op="ADD", shape1=(1, 4, 3, 7), shape2=(1, 4, 3, 7), scales=(0.01, 0.08, 0.1)),
    "large_output_scale": dict(op="ADD", shape1=(1, 3, 3, 4), shape2=(1, 3, 3, 4), scales=(0.01, 0.02, 1.0)),
    "input_scales_far_apart": dict(op="ADD", shape1=(1, 2, 5, 3), shape2=(1, 2, 5, 3), scales=(0.3, 2e-9, 0.5)),
    # The common case's loops on every length up to 9 (either input the larger by chance).
    **{f"length_{n}": dict(op="ADD", shape1=(n,), shape2=(n,)) for n in range(1, 10)},
    # Its table (ADD_TABLE_MIN_ELEMENTS or more elements, `widen`): either input halved, extreme
    # zero points, clamps, lengths leaving every remainder of 4, power-of-two multipliers (2^30:
    # rescaling x = -1 gives 0 where gemmlowp's h < 0 and x < 0 disagree).
    "table_first_input_larger": dict(op="ADD", shape1=(1, 8, 8, 9), shape2=(1, 8, 8, 9), scales=(0.08, 0.01, 0.1),
                                     widen=True),
    "table_second_input_larger": dict(op="ADD", shape1=(1, 9, 8, 8), shape2=(1, 9, 8, 8),
                                      scales=(0.011, 0.07, 0.12), widen=True),
    "table_zero_points_min_max": dict(op="ADD", shape1=(1, 2, 13, 20), shape2=(1, 2, 13, 20), zps=(-128, 127, 127),
                                      scales=(0.05, 0.02, 0.07), widen=True),
    "table_zero_points_max_min_relu": dict(op="ADD", shape1=(1, 1, 19, 27), shape2=(1, 1, 19, 27),
                                           zps=(127, -128, -128), scales=(0.02, 0.05, 0.07), activation=1,
                                           widen=True),
    "table_relu6": dict(op="ADD", shape1=(1, 1, 2, 257), shape2=(1, 1, 2, 257), scales=(0.04, 0.03, 0.05),
                        activation=3, widen=True),
    "table_output_multiplier_2_30": dict(op="ADD", shape1=(1, 1, 5, 103), shape2=(1, 1, 5, 103),
                                         scales=(0.125, 0.03, 0.0625), widen=True),
    "table_input_multiplier_2_30": dict(op="ADD", shape1=(1, 1, 3, 173), shape2=(1, 1, 3, 173),
                                        scales=(0.03125, 0.125, 0.1), widen=True),
    # What the table does not take: equal scales (both halved: no table needed), SUB and
    # broadcasting (the general loop, NULL for the scratch).
    "equal_scales_large_relu": dict(op="ADD", shape1=(1, 8, 8, 10), shape2=(1, 8, 8, 10),
                                    scales=(0.05, 0.05, 0.08), activation=1, widen=True),
    "sub_large": dict(op="SUB", shape1=(1, 8, 8, 10), shape2=(1, 8, 8, 10), widen=True),
    "broadcast_large": dict(op="ADD", shape1=(1, 8, 8, 16), shape2=(16,), widen=True),
}


@pytest.mark.parametrize("case", list(ADD_CASES), ids=list(ADD_CASES))
def test_add(case):
    rng = np.random.default_rng(len(case) + 500)
    model = add_model(rng, **ADD_CASES[case])
    table = [c.scratch_bytes for c in compile_model(model).kernel_calls if c.kernel == "te_add_s8"]
    assert table == [ADD_TABLE_BYTES if case.startswith("table_") else 0]
    check_plan(compile_model(model))
    assert_bit_exact(model, rng)
    assert_bit_exact(model, rng, inputs=extreme_inputs(model, -128) + extreme_inputs(model, 127))


# Every pair of int8 inputs (65,536 elements: the table's path) through te_add_s8, for inputs
# of either scale the larger, zero points at the ends of int8, clamps and power-of-two ratios.
ADD_PAIRS_CASES = {
    "first_larger": dict(scales=(0.09, 0.013, 0.11), zps=(3, -7, 5)),
    "second_larger_zp_ends": dict(scales=(0.02, 0.05, 0.07), zps=(127, -128, -128)),
    "zp_ends_relu6": dict(scales=(0.05, 0.02, 0.04), zps=(-128, 127, 127), activation=3),
    "output_multiplier_2_30": dict(scales=(0.125, 0.03, 0.0625), zps=(0, 1, -1)),
    "input_multiplier_2_30_relu": dict(scales=(0.03125, 0.125, 0.1), zps=(-5, 9, -100), activation=1),
    "equal_scales": dict(scales=(0.06, 0.06, 0.05), zps=(-128, 127, 0)),
}


def every_pair() -> list[np.ndarray]:
    a, b = np.meshgrid(np.arange(-128, 128, dtype=np.int8), np.arange(-128, 128, dtype=np.int8), indexing="ij")
    return [a.reshape(1, 256, 256, 1), b.reshape(1, 256, 256, 1)]


@pytest.mark.parametrize("case", list(ADD_PAIRS_CASES), ids=list(ADD_PAIRS_CASES))
def test_add_every_input_pair(case):
    rng = np.random.default_rng(8)
    model = add_model(rng, op="ADD", shape1=(1, 256, 256, 1), shape2=(1, 256, 256, 1), widen=True,
                      **ADD_PAIRS_CASES[case])
    table = [c.scratch_bytes for c in compile_model(model).kernel_calls if c.kernel == "te_add_s8"]
    assert table == [0 if case == "equal_scales" else ADD_TABLE_BYTES]
    assert_bit_exact(model, rng, inputs=[every_pair()])


BINARY_SIZE_MAIN = r"""
#include <stdio.h>
#include "tinyengine.h"
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        te_binary_params p = {0};
        sscanf(argv[i], "%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d", &p.ndim, &p.shape[0], &p.stride1[0], &p.stride2[0],
               &p.left_shift, &p.input1_multiplier, &p.input1_shift, &p.input2_multiplier, &p.input2_shift,
               &p.output_multiplier, &p.output_shift);
        printf("%d ", (int)te_add_s8_get_buffer_size(&p));
    }
    return 0;
}
"""


def test_add_table_bytes_equal_the_kernel(tmp_path):
    """lowering/elementwise.py add_table_bytes mirrors te_add_s8_get_buffer_size: the table only
    for one merged contiguous dimension of ADD_TABLE_MIN_ELEMENTS or more, left shift 20, one
    input halved, the other and the output rescaled by a multiplier of [2^30, 2^31) and a shift
    of [-23, -1]."""
    main = tmp_path / "main.c"
    main.write_text(BINARY_SIZE_MAIN)
    exe = tmp_path / "sizes"
    subprocess.run(["gcc", *WARNINGS, "-O2", "-I", str(C_INCLUDE_DIR), str(main),
                    str(C_SOURCE_DIR / "kernels" / "add_s8.c"), "-o", str(exe)], check=True)
    half, m = (1 << 30, 0), 1518500250
    base = dict(ndim=1, shape=ADD_TABLE_MIN_ELEMENTS, stride1=1, stride2=1, left_shift=20, in1=half, in2=(m, -2),
                out=(m, -18))
    variants = [{}, dict(in1=(m, -2), in2=half), dict(in2=half), dict(shape=ADD_TABLE_MIN_ELEMENTS - 1),
                dict(shape=100000),
                dict(ndim=2), dict(stride1=0), dict(stride2=0), dict(left_shift=19), dict(in2=(-m, -2)),
                dict(in2=(m, 0)), dict(in2=(m, -23)), dict(in2=(m, -24)), dict(in2=((1 << 30) - 1, -2)),
                dict(out=(m, -23)), dict(out=(m, -24)), dict(out=(m, 0)), dict(out=(1 << 30, -1)),
                dict(in1=(m, -2), in2=(m, -3)), dict(in1=(m, -1), in2=(1 << 30, -1))]
    cases = [{**base, **v} for v in variants]
    params = [dict(ndim=c["ndim"], shape=[c["shape"]], stride1=[c["stride1"]], stride2=[c["stride2"]],
                   left_shift=c["left_shift"], input1_multiplier=c["in1"][0], input1_shift=c["in1"][1],
                   input2_multiplier=c["in2"][0], input2_shift=c["in2"][1], output_multiplier=c["out"][0],
                   output_shift=c["out"][1]) for c in cases]
    args = [",".join(str(v) for v in (p["ndim"], p["shape"][0], p["stride1"][0], p["stride2"][0], p["left_shift"],
                                      p["input1_multiplier"], p["input1_shift"], p["input2_multiplier"],
                                      p["input2_shift"], p["output_multiplier"], p["output_shift"])) for p in params]
    got = [int(v) for v in subprocess.run([str(exe), *args], capture_output=True, text=True, check=True).stdout.split()]
    want = [add_table_bytes(p) for p in params]
    assert got == want
    assert want[:3] == [ADD_TABLE_BYTES, ADD_TABLE_BYTES, 0] and want[4] == ADD_TABLE_BYTES and sum(want) == 6 * 1024


def test_add_table_only_where_it_fits():
    """The planner drops te_add_s8's table (NULL for the scratch) where it would raise the arena:
    an ADD alone is its model's busiest step; followed by a wider layer, it is not."""
    for widen in (False, True):
        model = add_model(np.random.default_rng(4), op="ADD", shape1=(1, 8, 8, 16), shape2=(1, 8, 8, 16),
                          scales=(0.08, 0.01, 0.1), widen=widen)
        compiled = compile_model(model)
        call = compiled.kernel_calls[0]
        assert (call.scratch_bytes, call.args[-1] == "NULL") == ((ADD_TABLE_BYTES, False) if widen else (0, True))
        assert (0 in compiled.plan.scratch) == widen
        check_plan(compiled)


REQUANT_MAIN = r"""
#include <stdio.h>
#include <stdint.h>
long check_requant(void (*report)(int32_t, int32_t, int32_t, int32_t, int32_t, int32_t), int32_t dense,
                   int32_t randoms, long *checked);
static void report(int32_t x, int32_t m, int32_t shift, int32_t offset, int32_t want, int32_t got)
{
    printf("first mismatch: x=%d multiplier=%d shift=%d offset=%d want=%d got=%d\n", x, m, shift, offset, want, got);
}
int main(void)
{
    long checked = 0;
    const long mismatches = check_requant(report, 4096, 64, &checked);
    printf("checked %ld mismatches %ld\n", checked, mismatches);
    return 0;
}
"""


BUFFER_SIZE_MAIN = r"""
#include <stdio.h>
#include "tinyengine.h"
int main(int argc, char **argv)
{
    for (int i = 1; i + 2 < argc; i += 3) {
        te_conv_params p = {0};
        sscanf(argv[i], "%hd", &p.k_h);
        p.k_w = p.k_h;
        sscanf(argv[i + 1], "%hd", &p.in_c);
        p.gemm_narrow = argv[i + 2][1] == 'n';
        printf("%d ", (int)(argv[i + 2][0] == 'p' ? te_conv_1x1_s8_get_buffer_size(&p) : te_conv_s8_get_buffer_size(&p)));
    }
    return 0;
}
"""


def test_scratch_sizes_equal_the_kernels(tmp_path):
    """The arena scratch the lowering gives te_conv_1x1_s8 and te_conv_s8 is what their
    *_get_buffer_size functions ask for (blocks of 6, 4, 2 and 1 pixels, blocks of at most 4
    where gemm_narrow, the direct loop's none)."""
    main = tmp_path / "main.c"
    main.write_text(BUFFER_SIZE_MAIN)
    exe = tmp_path / "sizes"
    sources = [C_SOURCE_DIR / "kernels" / f for f in ("conv_1x1_s8.c", "conv_s8.c", "gemm_s8_mve.c")]
    subprocess.run(["gcc", *WARNINGS, "-O2", "-I", str(C_INCLUDE_DIR), str(main), *map(str, sources), "-o", str(exe)],
                   check=True)
    cases = [(1, c, kind) for c in (1, 3, 16, 255, 256, 257, 300, 340, 341, 512, 513, 1024) for kind in ("p", "pn")]
    cases += [(k, c, kind) for k, c in ((3, 3), (3, 16), (1, 144), (3, 17), (5, 8), (3, 64), (1, 1024), (5, 41),
                                        (5, 13), (3, 38)) for kind in ("c", "cn")]
    args = [str(v) for case in cases for v in case]
    got = [int(v) for v in subprocess.run([str(exe), *args], capture_output=True, text=True, check=True).stdout.split()]
    want = [gemm_scratch_bytes(c, kind == "pn") if kind[0] == "p" else conv_s8_scratch_bytes(k * k * c, kind == "cn")
            for k, c, kind in cases]
    assert got == want
    rng = np.random.default_rng(3)
    for k, cin, kernel in ((1, 300, "te_conv_1x1_s8"), (3, 5, "te_conv_s8")):
        call = compile_model(conv_case_model(rng, (1, 4, 4, cin), 6, k=k)).kernel_calls[0]
        narrow = bool(call.params["gemm_narrow"])
        want = conv_s8_scratch_bytes(k * k * cin, narrow) if kernel == "te_conv_s8" else gemm_scratch_bytes(cin, narrow)
        assert (call.kernel, call.scratch_bytes) == (kernel, want)


def test_requantisation_identical_to_gemmlowp(tmp_path):
    """te_requant_apply and te_requant_fast (the convolutions' and ADD's output stage) against
    te_requantize (gemmlowp, as TFLite) on every shift and edge values, under UBSan."""
    main = tmp_path / "main.c"
    main.write_text(REQUANT_MAIN)
    exe = tmp_path / "requant_check"
    subprocess.run(["gcc", *WARNINGS, "-O2", "-fsanitize=undefined", "-fno-sanitize-recover", "-I",
                    str(C_INCLUDE_DIR), str(main), str(REQUANT_CHECK), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    checked, mismatches = (int(v) for v in out.split()[-3::2])
    assert mismatches == 0, out
    assert checked > 10_000_000
