"""te_depthwise_conv_s8_fast's DSP path (SXTAB16, SMLABB/SMLATT, SSAT, SEL) on simulated
Cortex-M4, M7 and M55, byte for byte against TFLite's reference kernels, on the edge shapes of
tests/test_kernel_depthwise.py (vww.tflite runs it in tests/test_qemu.py)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from platformio_tinyengine import firmware, qemu
from platformio_tinyengine.boards import resolve_board
from platformio_tinyengine.memory.planner import plan_memory
from platformio_tinyengine.pipeline import compile_model
from tests.model_builder import ModelBuilder
from tests.test_kernel_depthwise import CASES, FAST, add_depthwise
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
    where the arena does not grow): the DSP path's whole windows on wide blocks, against TFLite."""
    model, inputs = edge_model(np.random.default_rng(19))
    compiled = compile_model(model)
    wide = [call for call in compiled.kernel_calls if call.scratch_bytes or call.scratch_declined]
    for call in wide:
        if call.scratch_declined:
            call.scratch_bytes, call.args = call.scratch_declined, call.args[:-1]
    assert len(wide) >= 8
    compiled.plan = plan_memory(compiled.steps, compiled.graph.inputs, compiled.graph.outputs)
    board = resolve_board(board_id)
    result = qemu.run(firmware.build(compiled, board, tmp_path, inputs=inputs).elf, board)
    assert_matches_reference(model, inputs, result, names=list(CASES))
