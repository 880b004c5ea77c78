"""The Arm DSP paths of the fast convolutions, requantisation and ADD (conv_1x1_s8.c, conv_s8.c,
te_gemm_s8.h, te_fixedpoint.h, add_s8.c) on the simulated Cortex-M4, M7 and M55, byte for byte
against TFLite's reference kernels; the host runs their portable paths (test_kernel_conv_fast.py)."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from platformio_tinyengine import firmware, qemu
from platformio_tinyengine.boards import resolve_board
from platformio_tinyengine.pipeline import compile_model
from platformio_tinyengine.resources import C_INCLUDE_DIR, C_SOURCE_DIR
from tests.kernel_check import scale
from tests.model_builder import ModelBuilder
from platformio_tinyengine.lowering.elementwise import ADD_TABLE_BYTES
from tests.test_kernel_conv_fast import (ADD_CASES, ADD_PAIRS_CASES, CONV_CASES, DOUBLED_EDGE_CASES,
                                         GEMM6_CONV_CASES, GEMM6_POINTWISE_CASES, POINTWISE_CASES, REQUANT_CHECK,
                                         add_binary_branch, add_conv, add_doubled_edge_branch, every_pair,
                                         with_gemm_blocks)
from tests.test_qemu import BOARDS, assert_matches_reference, requires_qemu, run_bare_main, run_firmware

# Every pointwise and te_conv_s8 case of the host tests, and the extreme zero points.
CASES = {**{f"pointwise_{k}": v for k, v in POINTWISE_CASES.items()},
         **{f"conv_{k}": v for k, v in CONV_CASES.items()},
         "pointwise_zp_127": dict(shape=(1, 3, 5, 67), cout=9, zp_in=127),
         "rgb_zp_minus_128": dict(shape=(1, 7, 6, 3), cout=16, k=3, stride=2, zp_in=-128)}


def add_conv_branch(b: ModelBuilder, rng: np.random.Generator, name: str, case: dict) -> np.ndarray:
    """An input -> CONV_2D -> output branch of `case` (shape, zp_in and add_conv's options); its
    input: random, or constant at the other end of int8 for the extreme zero points."""
    case = dict(case)
    shape, zp = case.pop("shape"), case.pop("zp_in", None)
    x = b.input(f"{name}_x", shape, "int8", scale(rng, 0.01, 0.1), int(rng.integers(-128, 128)) if zp is None else zp)
    y, _ = add_conv(b, rng, name, x, shape, **case)
    b.output(y)
    fill = {None: None, 127: -128, -128: 127}[zp]
    return rng.integers(-128, 128, size=shape, dtype=np.int8) if fill is None else np.full(shape, fill, np.int8)


def edge_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray], list[str]]:
    """One model holding every case as its own input -> operator -> output branch; its inputs
    (random, and constant -128 or 127 for the extreme zero points; the doubled sums' extremes
    at their fit bound) and output names."""
    b = ModelBuilder()
    inputs, names = [], []
    for name, case in CASES.items():
        inputs.append(add_conv_branch(b, rng, name, case))
        names.append(name)
    for name, case in ADD_CASES.items():
        add_binary_branch(b, rng, name, case)
        inputs += [rng.integers(-128, 128, size=case[k], dtype=np.int8) for k in ("shape1", "shape2")]
        names += [name, f"{name}_widened"] if case.get("widen") else [name]
    for name, case in DOUBLED_EDGE_CASES.items():
        inputs.append(add_doubled_edge_branch(b, rng, name, **case)[0])
        names.append(name)
    return b.finish(), inputs, names


@requires_qemu
@pytest.mark.parametrize("board_id", BOARDS)
def test_edge_cases_bit_exact(board_id, tmp_path):
    model, inputs, names = edge_model(np.random.default_rng(17))
    calls = compile_model(model).kernel_calls
    assert {"te_conv_1x1_s8", "te_conv_s8", "te_add_s8"} <= {c.kernel for c in calls}
    # Both output stages of the fused rows: doubled sums and today's.
    assert {c.params.get("gemm_double") for c in calls if c.kernel == "te_conv_1x1_s8"} == {0, 1}
    result = run_firmware(model, board_id, inputs, tmp_path)
    assert_matches_reference(model, inputs, result, names=names)


@requires_qemu
@pytest.mark.parametrize("narrow", [False, True], ids=["blocks_of_6", "blocks_of_4"])
@pytest.mark.parametrize("board_id", BOARDS)
def test_gemm_blocks_of_6_bit_exact(board_id, narrow, tmp_path):
    """The GEMM's blocks of 6 pixels (the fused rows' assembly on the M7 and M4, the Helium path
    on the M55) and the same layers in blocks of at most 4, against TFLite."""
    rng = np.random.default_rng(23)
    b = ModelBuilder()
    cases = {**{f"pointwise_{k}": v for k, v in GEMM6_POINTWISE_CASES.items()},
             **{f"conv_{k}": v for k, v in GEMM6_CONV_CASES.items()}}
    inputs = [add_conv_branch(b, rng, name, case) for name, case in cases.items()]
    model = b.finish()
    compiled = with_gemm_blocks(compile_model(model), narrow)
    assert sum(c.params.get("gemm_narrow") == int(narrow) for c in compiled.kernel_calls) == len(cases)
    board = resolve_board(board_id)
    result = qemu.run(firmware.build(compiled, board, tmp_path, inputs=inputs).elf, board)
    assert_matches_reference(model, inputs, result, names=list(cases))


@requires_qemu
def test_edge_cases_bit_exact_portable_build(tmp_path):
    """The same cases with every kernel's portable path on the M7 (TE_PORTABLE)."""
    model, inputs, names = edge_model(np.random.default_rng(17))
    result = run_firmware(model, "qemu_cortex_m7", inputs, tmp_path, portable=True)
    assert_matches_reference(model, inputs, result, names=names)


@requires_qemu
@pytest.mark.parametrize("board_id", ["qemu_cortex_m7", "qemu_cortex_m4"])
def test_add_every_input_pair_on_the_core(board_id, tmp_path):
    """te_add_s8's table path with SMMLAR on every pair of int8 inputs, for each parameter set
    of the host test (one branch each)."""
    rng = np.random.default_rng(8)
    b = ModelBuilder()
    for name, case in ADD_PAIRS_CASES.items():
        add_binary_branch(b, rng, name, dict(op="ADD", shape1=(1, 256, 256, 1), shape2=(1, 256, 256, 1), **case))
    model = b.finish()
    # The first branch's ADD is the busiest step: the planner drops its table, so its every pair
    # runs through the loop without one.
    tables = [c.scratch_bytes for c in compile_model(model).kernel_calls]
    assert tables == [0] + [0 if name == "equal_scales" else ADD_TABLE_BYTES for name in list(ADD_PAIRS_CASES)[1:]]
    inputs = every_pair() * len(ADD_PAIRS_CASES)
    result = run_firmware(model, board_id, inputs, tmp_path)
    assert_matches_reference(model, inputs, result, names=list(ADD_PAIRS_CASES))


@requires_qemu
def test_dsp_instructions_are_compiled():
    """The cases above test the DSP paths only if the library really compiles them: the GEMM core
    (conv_1x1_s8.c, which te_conv_s8 calls) with SMLAD on scratch words, LDM of 4 of them, SXTB16
    with the rotation folded in, SMLAL for the requantisation and SSAT for the clamp; te_conv_s8
    widening its columns with SXTB16; te_add_s8 rescaling with SMMLAR."""
    flags = firmware.compiler_flags(resolve_board("qemu_cortex_m4"))
    objects = {o.stem: o for o in firmware.library_objects(flags)}
    texts = {stem: subprocess.run(["arm-none-eabi-objdump", "-d", str(objects[stem])], capture_output=True,
                                  text=True, check=True).stdout for stem in ("conv_1x1_s8", "conv_s8", "add_s8")}
    for stem in ("conv_1x1_s8", "conv_s8"):
        assert re.search(r"sxtb16\s+\w+, \w+, ror #8", texts[stem]), stem
    assert "smmlar" in texts["add_s8"] and "ssat" in texts["add_s8"]
    assert re.search(r"ldmia(\.w)?\s+\w+!, \{r8, r9, sl, fp\}", texts["conv_1x1_s8"])
    for instruction in ("smlad", "smlal", "ssat"):
        assert instruction in texts["conv_1x1_s8"], instruction
    assert "te_gemm_block" in texts["conv_s8"]
    portable = {o.stem: o for o in firmware.library_objects(flags + ["-DTE_PORTABLE"])}
    text = subprocess.run(["arm-none-eabi-objdump", "-d", str(portable["conv_1x1_s8"])], capture_output=True,
                          text=True, check=True).stdout
    assert "smlad" not in text and "sxtb16" not in text and "ssat" not in text
    text = subprocess.run(["arm-none-eabi-objdump", "-d", str(portable["add_s8"])], capture_output=True,
                          text=True, check=True).stdout
    assert "smmlar" not in text and "ssat" not in text


@requires_qemu
@pytest.mark.parametrize("optimization", ["-Os", "-O1", "-O3", "-Og"])
@pytest.mark.parametrize("board_id", ["qemu_cortex_m7", "qemu_cortex_m4"])
def test_gemm_assembly_compiles_at_every_optimisation_level(board_id, optimization, tmp_path):
    """The GEMM's inline assembly takes up to 14 registers, some fixed: the compiler must find them
    at every level a project may build with (PlatformIO's default is -Os), not only the -O2 of
    the benchmarks."""
    flags = firmware.compiler_flags(resolve_board(board_id), optimization)
    for stem in ("conv_1x1_s8", "conv_s8"):
        source = C_SOURCE_DIR / "kernels" / f"{stem}.c"
        subprocess.run([firmware.GCC, *flags, "-I", str(C_INCLUDE_DIR), "-c", str(source), "-o",
                        str(tmp_path / f"{stem}.o")], check=True, capture_output=True)


REQUANT_MAIN = r"""
#include <stdint.h>
#include "te_firmware.h"
long check_requant(void (*report)(int32_t, int32_t, int32_t, int32_t, int32_t, int32_t), int32_t dense,
                   int32_t randoms, long *checked);
static void report(int32_t x, int32_t m, int32_t shift, int32_t offset, int32_t want, int32_t got)
{
    te_print("first mismatch: x=");
    te_print_int(x);
    te_print(" multiplier=");
    te_print_int(m);
    te_print(" shift=");
    te_print_int(shift);
    te_print(" offset=");
    te_print_int(offset);
    te_print(" want=");
    te_print_int(want);
    te_print(" got=");
    te_print_int(got);
    te_print("\n");
}
int main(void)
{
    long checked = 0;
    const long mismatches = check_requant(report, 512, 8, &checked);
    te_print("checked ");
    te_print_int(checked);
    te_print(" mismatches ");
    te_print_int(mismatches);
    te_print("\n");
    return 0;
}
"""


@requires_qemu
@pytest.mark.parametrize("board_id", ["qemu_cortex_m7", "qemu_cortex_m4"])
def test_requantisation_identical_to_gemmlowp_on_the_core(board_id, tmp_path):
    """te_requant_apply and te_requant_fast with SMLAL against te_requantize on the simulated core,
    in a firmware of the board's start-up and linker script around tests/harness/requant_check.c."""
    text = run_bare_main(board_id, REQUANT_MAIN, tmp_path, REQUANT_CHECK)
    found = re.search(r"checked (\d+) mismatches (\d+)", text)
    assert found, text[-2000:]
    assert int(found.group(2)) == 0, text[-2000:]
    assert int(found.group(1)) > 1_000_000
