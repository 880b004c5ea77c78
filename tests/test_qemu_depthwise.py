"""te_depthwise_conv_s8_fast's DSP path (SXTAB16, SMLABB/SMLATT, SSAT, SEL) on simulated
Cortex-M4, M7 and M55, byte for byte against TFLite's reference kernels, on the edge shapes of
tests/test_kernel_depthwise.py (vww.tflite runs it in tests/test_qemu.py)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from platformio_tinyengine import firmware, qemu
from platformio_tinyengine.boards import resolve_board
from platformio_tinyengine.lowering.depthwise import FLAG_SHIFT_0, FLAG_SHIFT_1, NOT_BAND, band_applies, scratch_bytes
from platformio_tinyengine.memory.planner import plan_memory
from platformio_tinyengine.pipeline import compile_model
from tests.model_builder import ModelBuilder
from tests.test_kernel_depthwise import CASES, FAST, LISTED_PATCHED, SAME, VALID, add_depthwise
from tests.test_qemu import BOARDS, assert_matches_reference, requires_qemu, run_firmware


def edge_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray]]:
    """Every case as its own branch; inputs random but for two constant extreme ones."""
    b = ModelBuilder()
    inputs = []
    for i, (name, case) in enumerate(CASES.items()):
        _, shape = add_depthwise(b, rng, name, **case)
        fill = (-128, 127)[i % 2] if i < 2 else None
        inputs.append(rng.integers(-128, 128, size=shape, dtype=np.int8) if fill is None
                      else np.full(shape, fill, np.int8))
    return b.finish(), inputs


@requires_qemu
def test_depthwise_kernel_takes_the_dsp_path():
    """The edge cases test the DSP path only if the library really compiles it for these cores."""
    for board_id in BOARDS:
        flags = firmware.compiler_flags(resolve_board(board_id))
        for portable, expected in ((False, True), (True, False)):
            obj = next(o for o in firmware.library_objects(flags + (["-DTE_PORTABLE"] if portable else []))
                       if o.stem == "depthwise_conv_s8_fast")
            disassembly = subprocess.run(["arm-none-eabi-objdump", "-d", str(obj)], capture_output=True,
                                         text=True, check=True).stdout
            assert ("smlabb" in disassembly and "sxtab16" in disassembly) == expected, (board_id, portable)


@requires_qemu
@pytest.mark.parametrize("portable", [False, True], ids=["dsp", "portable"])
@pytest.mark.parametrize("board_id", BOARDS)
def test_depthwise_edge_shapes_bit_exact(board_id, portable, tmp_path):
    model, inputs = edge_model(np.random.default_rng(17))
    assert {c.kernel for c in compile_model(model).kernel_calls} == {FAST}
    result = run_firmware(model, board_id, inputs, tmp_path, portable=portable)
    assert_matches_reference(model, inputs, result, names=list(CASES))


@requires_qemu
@pytest.mark.parametrize("board_id", BOARDS)
def test_depthwise_wide_blocks_bit_exact(board_id, tmp_path):
    """Every layer that asks for the optional scratch granted it (the planner grants it only
    where the arena does not grow): the DSP path's whole windows on wide blocks (right 0 among
    them), against TFLite."""
    model, inputs = edge_model(np.random.default_rng(19))
    compiled = compile_model(model)
    wide = [call for call in compiled.kernel_calls if call.scratch_bytes or call.scratch_declined]
    for call in wide:
        if call.scratch_declined:
            call.scratch_bytes, call.args = call.scratch_declined, [a for a in call.args if a != "NULL"]
            call.params["band"] = int("band" in call.params_declined)
    assert len(wide) >= 8 and any(call.params["flags"] & FLAG_SHIFT_1 and not call.params["band"] for call in wide)
    compiled.plan = plan_memory(compiled.steps, compiled.graph.inputs, compiled.graph.outputs)
    board = resolve_board(board_id)
    result = qemu.run(firmware.build(compiled, board, tmp_path, inputs=inputs).elf, board)
    assert_matches_reference(model, inputs, result, names=list(CASES))


# The band (3x3 and 5x5 of stride 1, 7x7 of stride 2, output zero point -128): channels 2 to 9, 12
# and 16, rows of 4 to 10 and 40 outputs (4 a step, the last step overlapping the one before), 1 to
# 20 input rows, top and bottom padding, VALID and fused asymmetric PADs, input zero points -128 and
# 127, ReLU, two batches, channels of right 0 and -1 (TE_DW_SHIFT_1, TE_DW_SHIFT_0) beside
# ordinary ones. Each case chains a second band layer (3x3) whose input dies there.
BAND_CASES = {
    "c2_w4_h3": dict(h=3, w=4, c=2),
    "c3_w5_zp127": dict(h=4, w=5, c=3, zp=127),
    "c4_w6_zp_minus128": dict(h=5, w=6, c=4, zp=-128),
    "c5_w7_h2_relu": dict(h=2, w=7, c=5, activation=1),
    "c6_w8_valid": dict(h=6, w=10, c=6, padding=VALID),
    "c7_w9_h1": dict(h=1, w=9, c=7),
    "c8_w9_batch_2": dict(h=4, w=9, c=8, batch=2),
    "c9_w6_fused_pad": dict(h=4, w=5, c=9, padding=VALID, pad_op=((2, 1), (0, 3))),
    "c16_w40": dict(h=3, w=40, c=16, zp=-128),
    "5x5_c3_w4_h2": dict(h=2, w=4, c=3, k=(5, 5)),
    "5x5_c6_w7_zp127": dict(h=5, w=7, c=6, k=(5, 5), zp=127),
    "5x5_c9_w6_valid": dict(h=7, w=10, c=9, k=(5, 5), padding=VALID),
    "5x5_c8_w10_fused_pad_batch_2": dict(h=5, w=9, c=8, k=(5, 5), padding=VALID, pad_op=((3, 1), (2, 3)), batch=2),
    "7x7_stride_2_c5_w4": dict(h=3, w=8, c=5, k=(7, 7), stride=2),
    "7x7_stride_2_c12_w10_zp127": dict(h=20, w=20, c=12, k=(7, 7), stride=2, zp=127),
    "7x7_stride_2_c7_w5_valid": dict(h=9, w=15, c=7, k=(7, 7), stride=2, padding=VALID),
    "7x7_stride_2_c4_w6_fused_pad": dict(h=4, w=10, c=4, k=(7, 7), stride=2, padding=VALID, pad_op=((3, 2), (1, 6))),
    "c7_w8_right_0_and_minus_1": dict(h=4, w=8, c=7, special={0: "right_0", 5: "right_-1", 6: "right_-1"}),
    "5x5_c9_w6_right_minus_1": dict(h=5, w=6, c=9, k=(5, 5), zp=-128, special={3: "right_-1"}),
    "7x7_stride_2_c8_w5_right_0": dict(h=9, w=10, c=8, k=(7, 7), stride=2, special={7: "right_0"}),
}


def band_model(rng: np.random.Generator, cases: dict) -> tuple[bytes, list[np.ndarray]]:
    b = ModelBuilder()
    inputs = []
    for name, case in cases.items():
        _, shape = add_depthwise(b, rng, name, out_zp=-128, chain=True, **case)
        inputs.append(rng.integers(-128, 128, size=shape, dtype=np.int8))
    return b.finish(), inputs


def run_band(model: bytes, inputs: list[np.ndarray], board_id: str, tmp_path) -> list:
    """The model with every layer the band applies to on the band (its scratch granted whatever
    the cost model says), run on the board against TFLite; the band calls."""
    compiled = compile_model(model)
    band = []
    for call in compiled.kernel_calls:
        p = call.params
        if band_applies(p["k_h"], p["k_w"], p["stride_w"]) and p["stride_h"] == p["stride_w"] and \
                not p["flags"] & NOT_BAND:
            p["band"] = 1
            call.scratch_bytes = scratch_bytes(p["channels"], p["k_h"], p["k_w"], p["flags"], 1, p["out_w"],
                                               p["stride_w"])
            call.args = call.args[:2]
            band.append(call)
    plan = compiled.plan = plan_memory(compiled.steps, compiled.graph.inputs, compiled.graph.outputs)
    board = resolve_board(board_id)
    result = qemu.run(firmware.build(compiled, board, tmp_path, inputs=inputs).elf, board)
    assert_matches_reference(model, inputs, result)
    return [(call, plan.offset(call.inputs[0]) - plan.offset(call.outputs[0])) for call in band]


@requires_qemu
@pytest.mark.parametrize("board_id", BOARDS)
def test_depthwise_band_bit_exact(board_id, tmp_path):
    model, inputs = band_model(np.random.default_rng(23), BAND_CASES)
    calls = run_band(model, inputs, board_id, tmp_path)
    assert len(calls) == 2 * len(BAND_CASES)
    assert all(any(call.params["flags"] & flag for call, _ in calls) for flag in (FLAG_SHIFT_1, FLAG_SHIFT_0))


@requires_qemu
@pytest.mark.parametrize("board_id", ["qemu_cortex_m7", "qemu_cortex_m4"])
@pytest.mark.parametrize("case", ["c3_w5_zp127", "5x5_c9_w6_valid", "7x7_stride_2_c12_w10_zp127"])
def test_depthwise_band_in_place(board_id, case, tmp_path):
    """A branch alone: a band layer's output placed over its input (less than a whole input
    apart), as window_kernel_gap allows."""
    model, inputs = band_model(np.random.default_rng(29), {case: BAND_CASES[case]})
    calls = run_band(model, inputs, board_id, tmp_path)
    assert len(calls) == 2 and any(0 <= distance < call.inputs[0].nbytes for call, distance in calls)


@requires_qemu
@pytest.mark.parametrize("board_id", BOARDS)
def test_depthwise_listed_blocks_in_patches_bit_exact(board_id, tmp_path):
    """A layer with listed blocks cut into patches (each tile a call, its paddings below 0 inside
    the map), against TFLite."""
    rng = np.random.default_rng(31)
    b = ModelBuilder()
    _, shape = add_depthwise(b, rng, "dw", **LISTED_PATCHED)
    model = b.finish()
    inputs = [rng.integers(-128, 128, size=shape, dtype=np.int8)]
    compiled = compile_model(model, patch="3x2@0")
    tiles = [call for call in compiled.kernel_calls if call.kernel == FAST]
    assert len(tiles) == 6 and min(call.params["pad_top"] for call in tiles) < 0
    board = resolve_board(board_id)
    result = qemu.run(firmware.build(compiled, board, tmp_path, inputs=inputs).elf, board)
    assert_matches_reference(model, inputs, result)
