"""The Helium (MVE) paths on the simulated Cortex-M55 (QEMU mps3-an547, which implements MVE):
the compiler turns them on for the board's flags only, they compile to MVE instructions, QEMU
executes those as the architecture says, and they give TFLite's reference bytes on the shapes
each path treats specially (tests/test_qemu.py runs vww.tflite on the M55; tests/test_qemu_conv.py
and tests/test_qemu_depthwise.py run their edge cases there too)."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from platformio_tinyengine import firmware, qemu
from platformio_tinyengine.boards import resolve_board
from platformio_tinyengine.pipeline import compile_model
from platformio_tinyengine.resources import C_INCLUDE_DIR
from tests.model_builder import ModelBuilder
from tests.test_kernel_conv_fast import REQUANT_CHECK, add_binary_branch
from tests.test_kernel_depthwise import CASES as DW_CASES
from tests.test_kernel_depthwise import FAST as DW_FAST
from tests.test_kernel_depthwise import VALID, add_depthwise
from tests.test_qemu import assert_matches_reference, requires_qemu, run_bare_main, run_firmware
from tests.test_qemu_conv import REQUANT_MAIN, add_conv_branch

M55 = "qemu_cortex_m55"
OBJDUMP = ["arm-none-eabi-objdump", "-d", "-m", "armv8.1-m.main"]


def disassemble(obj) -> str:
    return subprocess.run([*OBJDUMP, str(obj)], capture_output=True, text=True, check=True).stdout


def library_object(board_id: str, stem: str, portable: bool = False):
    flags = firmware.compiler_flags(resolve_board(board_id), portable=portable)
    return next(o for o in firmware.library_objects(flags) if o.stem == stem)


def run_main(main_c: str, tmp_path, *sources) -> str:
    return run_bare_main(M55, main_c, tmp_path, *sources)


@requires_qemu
@pytest.mark.parametrize("board_id, portable, expected", [(M55, False, 1), (M55, True, 0), ("qemu_cortex_m7", False, 0),
                                                          ("qemu_cortex_m4", False, 0)])
def test_mve_path_is_chosen_by_the_compiler_flags(board_id, portable, expected, tmp_path):
    """arm-none-eabi-gcc defines __ARM_FEATURE_MVE for the M55 board's flags, and tinyengine.h
    turns TE_USE_MVE on there alone (off with TE_PORTABLE)."""
    source = tmp_path / "probe.c"
    source.write_text('#include "tinyengine.h"\nint te_use_mve = TE_USE_MVE;\n')
    flags = firmware.compiler_flags(resolve_board(board_id), portable=portable)
    text = subprocess.run([firmware.GCC, *flags, "-I", str(C_INCLUDE_DIR), "-E", str(source)], capture_output=True,
                          text=True, check=True).stdout
    assert f"int te_use_mve = {expected};" in text


@requires_qemu
def test_mve_instructions_are_compiled():
    """The bit-exact tests below test the Helium paths only if the library really compiles them:
    16-byte loads of the filter and the columns (predicated for the tails), VMLADAVA for the dot
    products, VQRDMULH and VRSHL for the requantisation, truncating byte stores; te_conv_1x1_s8
    calls into them. The portable build of the same board has no MVE instruction in these
    objects."""
    gemm = disassemble(library_object(M55, "gemm_s8_mve"))
    assert re.search(r"vmla(d?)va\.s8", gemm)
    for instruction in ("vldrb.u8\tq", "vqrdmulh.s32", "vrshl.s32", "vstrb.32", "vctp.8"):
        assert instruction in gemm, instruction
    assert "te_conv_1x1_s8_mve" in subprocess.run(["arm-none-eabi-nm", str(library_object(M55, "conv_1x1_s8"))],
                                                   capture_output=True, text=True, check=True).stdout
    for stem in ("gemm_s8_mve", "conv_1x1_s8", "conv_s8"):
        text = disassemble(library_object(M55, stem, portable=True))
        assert not re.search(r"\tv(mla(d?)va|ld2|qrdmulh|rshl|ldrb\.[us]8\tq)", text), stem


VMLADAVA_MAIN = r"""
#include <arm_mve.h>
#include <stdint.h>
#include "te_firmware.h"
/* VMLADAVA.S8 against C on products at the ends of int8, accumulating past the int32 ends. */
int main(void)
{
    static int8_t x[16], y[16];
    long mismatches = 0;
    uint32_t state = 1u;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 16; i++) {
            state = state * 1664525u + 1013904223u;
            x[i] = round < 2 ? -128 : (int8_t)(state >> 24);
            y[i] = round == 0 ? -128 : (round == 1 ? 127 : (int8_t)(state >> 16));
        }
        const int32_t start = (int32_t)(round % 3 == 0 ? 0x7FFFFF00u : (round % 3 == 1 ? 0x80000010u : state));
        uint32_t want = (uint32_t)start;
        for (int i = 0; i < 16; i++) {
            want += (uint32_t)(x[i] * y[i]);
        }
        mismatches += vmladavaq_s8(start, vld1q_s8(x), vld1q_s8(y)) != (int32_t)want;
    }
    te_print("mismatches ");
    te_print_int(mismatches);
    te_print("\n");
    return 0;
}
"""


@requires_qemu
def test_qemu_executes_vmladava(tmp_path):
    text = run_main(VMLADAVA_MAIN, tmp_path)
    assert re.search(r"mismatches 0\b", text), text[-2000:]


@requires_qemu
def test_mve_requantisation_identical_to_gemmlowp_on_the_core(tmp_path):
    """te_mve_requantize and te_mve_requantize_n (with tests/harness/requant_check.c's te_requant_*
    checks) against te_requantize on edge values, on the simulated M55."""
    text = run_main(REQUANT_MAIN, tmp_path, REQUANT_CHECK)
    found = re.search(r"checked (\d+) mismatches (\d+)", text)
    assert found, text[-2000:]
    assert int(found.group(2)) == 0, text[-2000:]
    assert int(found.group(1)) > 1_000_000


# The GEMM's shapes (gemm_s8_mve.c): input channels giving every len % 16 (the predicated tail,
# rows padded to 4 bytes) after 0, 1 and 2 full steps; odd pixel counts (a last pixel alone), odd output channels (a last single row), more
# than 32 (several groups) and counts not a multiple of 4 (predicated output stage); per-channel
# shifts from left shifts to below 2^-24, narrow activations, extreme zero points; te_conv_s8's
# im2col columns of 12 to 576 bytes.
GEMM_CASES = {
    **{f"pointwise_cin_{cin}": dict(shape=(1, 3, 1 + cin % 3, cin), cout=1 + (cin * 7) % 12)
       for cin in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 24, 27, 31, 32, 33, 40, 46, 48)},
    "pointwise_cout_35_mixed_shifts": dict(shape=(1, 3, 3, 16), cout=35, scales="mixed"),
    "pointwise_cout_66_relu6_cin_19": dict(shape=(1, 1, 5, 19), cout=66, activation=3),
    "pointwise_cout_33_relu_n1_to_1": dict(shape=(1, 2, 2, 24), cout=33, activation=2),
    "pointwise_one_pixel_cout_3": dict(shape=(1, 1, 1, 40), cout=3, scales="mixed"),
    "pointwise_batch_3": dict(shape=(3, 1, 1, 18), cout=5),
    "pointwise_zp_127": dict(shape=(1, 3, 5, 67), cout=9, zp_in=127),
    "pointwise_zp_minus_128": dict(shape=(1, 5, 1, 80), cout=10, zp_in=-128),
    "rgb_3x3_stride2": dict(shape=(1, 9, 11, 3), cout=16, k=3, stride=2),
    "rgb_3x3_cout_17_mixed": dict(shape=(1, 6, 5, 3), cout=17, k=3, scales="mixed"),
    "conv_3x3_cin_16_window_144": dict(shape=(1, 4, 5, 16), cout=5, k=3),
    "conv_3x3_cin_64_window_576": dict(shape=(1, 3, 4, 64), cout=7, k=3, stride=2),
    "conv_3x3_cin_5_window_48": dict(shape=(1, 5, 4, 5), cout=34, k=3, activation=3),
    "conv_2x2_cin_3_window_12": dict(shape=(1, 4, 4, 3), cout=3, k=2, padding=1),
    "rgb_zp_minus_128": dict(shape=(1, 7, 6, 3), cout=16, k=3, stride=2, zp_in=-128),
}


def gemm_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray]]:
    """Every case as its own input -> CONV_2D -> output branch; random inputs, constant at the
    other end of int8 for the extreme zero points."""
    b = ModelBuilder()
    inputs = [add_conv_branch(b, rng, name, case) for name, case in GEMM_CASES.items()]
    return b.finish(), inputs


@requires_qemu
def test_gemm_edge_shapes_bit_exact(tmp_path):
    model, inputs = gemm_model(np.random.default_rng(23))
    assert {c.kernel for c in compile_model(model).kernel_calls} == {"te_conv_1x1_s8", "te_conv_s8"}
    result = run_firmware(model, M55, inputs, tmp_path)
    assert_matches_reference(model, inputs, result, names=list(GEMM_CASES))


# te_add_s8's Helium path (add_s8_mve.c): rows of 1 to 7 elements (the predicated last step),
# long rows, an input broadcast along the innermost dimension (gathered rows, step 0) on either
# side, SUB (negative multipliers), clamped activations, inputs at the ends of int8.
ADD_MVE_CASES = {
    **{f"row_{n}": dict(op="ADD", shape1=(1, 2, n), shape2=(1, 2, n)) for n in range(1, 8)},
    "long_row_relu6": dict(op="ADD", shape1=(1, 9, 9, 24), shape2=(1, 9, 9, 24), activation=3),
    "broadcast_first_inner": dict(op="ADD", shape1=(1, 3, 4, 1), shape2=(1, 3, 4, 7)),
    "broadcast_second_inner_sub": dict(op="SUB", shape1=(2, 3, 9), shape2=(2, 3, 1)),
    "broadcast_outer_rows": dict(op="ADD", shape1=(3, 5, 6), shape2=(6,)),
    "extreme_zero_points": dict(op="SUB", shape1=(1, 3, 11), shape2=(1, 3, 11), zps=(-128, 127, 127)),
}


def add_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray]]:
    b = ModelBuilder()
    inputs = []
    for i, (name, case) in enumerate(ADD_MVE_CASES.items()):
        add_binary_branch(b, rng, name, case)
        for shape in (case["shape1"], case["shape2"]):
            inputs.append(np.full(shape, (-128, 127)[i % 2], np.int8) if i % 5 == 4
                          else rng.integers(-128, 128, size=shape, dtype=np.int8))
    return b.finish(), inputs


@requires_qemu
def test_add_mve_instructions_are_compiled():
    text = disassemble(library_object(M55, "add_s8_mve"))
    for instruction in ("vldrb.s32", "vmlas.s32", "vqrdmulh.s32", "vrshl.s32", "vstrb.32"):
        assert instruction in text, instruction
    assert not re.search(r"\tv(mlas|qrdmulh|rshl)", disassemble(library_object(M55, "add_s8", portable=True)))


@requires_qemu
def test_add_edge_shapes_bit_exact(tmp_path):
    model, inputs = add_model(np.random.default_rng(29))
    assert {c.kernel for c in compile_model(model).kernel_calls} == {"te_add_s8"}
    result = run_firmware(model, M55, inputs, tmp_path)
    assert_matches_reference(model, inputs, result, names=list(ADD_MVE_CASES))


# te_depthwise_conv_s8_fast's Helium path (depthwise_conv_s8_mve.c), beyond tests/test_kernel_depthwise.py's
# CASES: windows of every tap count its plans treat apart (1 to 3 taps in int32 lanes alone, 4 to 7 as a
# masked group, 8 as one group, 9 with a single tap, 10 with two, 12 a group and a masked one, 16 two
# groups, 35 four groups and three singles, 42 five and two; clipped windows reach the counts between),
# channel counts 1 to 3 and 13 (the C tail after the blocks), runs of whole windows with strides 2 and 3
# over several blocks, input zero points at both ends and the general output stage on the one-group
# windows; and the layers it leaves to the DSP path: more than 7 kernel rows, a window spanning more
# than 64 KiB of input (the 16-bit gathers).
DW_MVE_CASES = {
    "1x2_valid_c8": dict(h=3, w=6, c=8, k=(1, 2), padding=VALID, out_zp=-128),
    "1x3_c4": dict(h=2, w=5, c=4, k=(1, 3), out_zp=-128),
    "2x2_c12": dict(h=5, w=6, c=12, k=(2, 2), out_zp=-128),
    "1x5_c8": dict(h=3, w=9, c=8, k=(1, 5), out_zp=-128),
    "2x3_c4": dict(h=4, w=6, c=4, k=(2, 3), out_zp=-128),
    "1x7_c8": dict(h=2, w=10, c=8, k=(1, 7), out_zp=-128),
    "2x4_c8": dict(h=5, w=7, c=8, k=(2, 4), out_zp=-128),
    "2x5_c8": dict(h=5, w=9, c=8, k=(2, 5), out_zp=-128),
    "4x4_c8": dict(h=6, w=7, c=8, k=(4, 4), out_zp=-128),
    "5x7_c8": dict(h=7, w=9, c=8, k=(5, 7), out_zp=-128),
    "6x7_c4_relu6": dict(h=8, w=9, c=4, k=(6, 7), activation=3),
    "3x3_c1": dict(h=5, w=5, c=1, k=(3, 3), out_zp=-128),
    "3x3_c2_relu6": dict(h=4, w=6, c=2, k=(3, 3), activation=3),
    "3x3_c3_stride3": dict(h=9, w=10, c=3, k=(3, 3), stride=3, out_zp=-128),
    "5x5_c13_stride_2x3": dict(h=9, w=11, c=13, k=(5, 5), stride=(2, 3), out_zp=-128),
    "3x3_stride2_c12": dict(h=11, w=13, c=12, k=(3, 3), stride=2, out_zp=-128),
    "3x3_zp127_c8": dict(h=6, w=7, c=8, k=(3, 3), zp=127, out_zp=-128),
    "3x3_zp_minus128_c8": dict(h=6, w=7, c=8, k=(3, 3), zp=-128, out_zp=-128),
    "3x3_signed_c8": dict(h=5, w=6, c=8, k=(3, 3), out_zp=17),
    "2x4_clamped_c8": dict(h=5, w=7, c=8, k=(2, 4), activation=1, out_zp=-5),
    "9x3_kernel_c8": dict(h=11, w=6, c=8, k=(9, 3), out_zp=-128),
    "7x1_span_over_64k_c176": dict(h=7, w=64, c=176, k=(7, 1), padding=VALID, out_zp=-128),
}


@requires_qemu
def test_depthwise_mve_instructions_are_compiled():
    """The edge shapes below test the Helium path only if the library compiles it: 16-bit byte
    gathers for the taps, VMLADAVA.S16 for the sums, 32-bit gathers for the single taps,
    VQRDMULH and VRSHL for the requantisation, the saturating narrowing and truncating byte
    store; te_depthwise_conv_s8_fast calls into it. The portable build compiles none of it."""
    text = disassemble(library_object(M55, "depthwise_conv_s8_mve"))
    assert re.search(r"vldrb\.s16\tq\d+, \[r\d+, q\d+\]", text), "16-bit byte gather"
    assert re.search(r"vldrb\.s32\tq\d+, \[r\d+, q\d+\]", text), "32-bit byte gather"
    for instruction in ("vmlava.s16", "vqrdmulh.s32", "vrshl.s32", "vqmovnb.s32", "vstrb.32"):
        assert instruction in text, instruction
    assert "te_depthwise_conv_s8_mve" in subprocess.run(
        ["arm-none-eabi-nm", str(library_object(M55, "depthwise_conv_s8_fast"))], capture_output=True, text=True,
        check=True).stdout
    for stem in ("depthwise_conv_s8_mve", "depthwise_conv_s8_fast"):
        assert not re.search(r"\tv(mla(d?)va|qrdmulh|rshl|ldrb\.s16)", disassemble(library_object(M55, stem, portable=True)))


def depthwise_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray], list[str]]:
    """tests/test_qemu_depthwise.py's edge model (tests/test_kernel_depthwise.py's CASES) and the
    cases above, each its own branch."""
    b = ModelBuilder()
    inputs = []
    cases = {**DW_CASES, **DW_MVE_CASES}
    for i, (name, case) in enumerate(cases.items()):
        _, shape = add_depthwise(b, rng, name, **case)
        fill = (-128, 127)[i % 2] if i < 2 else None
        inputs.append(rng.integers(-128, 128, size=shape, dtype=np.int8) if fill is None
                      else np.full(shape, fill, np.int8))
    return b.finish(), inputs, list(cases)


@requires_qemu
def test_depthwise_edge_shapes_bit_exact(tmp_path):
    model, inputs, names = depthwise_model(np.random.default_rng(31))
    assert {c.kernel for c in compile_model(model).kernel_calls} == {DW_FAST}
    result = run_firmware(model, M55, inputs, tmp_path)
    assert_matches_reference(model, inputs, result, names=names)


@requires_qemu
def test_depthwise_patched_stage_bit_exact(tmp_path):
    """Patch-based inference gives each tile its own padding, negative ones included."""
    rng = np.random.default_rng(41)
    b = ModelBuilder()
    _, shape = add_depthwise(b, rng, "dw", h=12, w=11, c=8, k=(5, 5), out_zp=-128)
    _, shape3 = add_depthwise(b, rng, "dw3", h=10, w=9, c=12, k=(3, 3), stride=2, out_zp=-128)
    model = b.finish()
    inputs = [rng.integers(-128, 128, size=s, dtype=np.int8) for s in (shape, shape3)]
    result = qemu.run(firmware.build(compile_model(model, patch="3x2@0"), resolve_board(M55), tmp_path,
                                     inputs=inputs).elf, resolve_board(M55))
    assert_matches_reference(model, inputs, result)


@requires_qemu
def test_depthwise_takes_the_helium_path(tmp_path):
    """A 3x3 layer on the M55 runs at more than half a MAC per instruction, which the DSP path
    (a third) does not reach."""
    rng = np.random.default_rng(5)
    b = ModelBuilder()
    _, shape = add_depthwise(b, rng, "dw", h=20, w=20, c=48, k=(3, 3), out_zp=-128)
    model = b.finish()
    compiled = compile_model(model)
    inputs = [rng.integers(-128, 128, size=shape, dtype=np.int8)]
    result = run_firmware(model, M55, inputs, tmp_path, profile=True)
    assert_matches_reference(model, inputs, result)
    assert compiled.kernel_calls[0].macs > 0.5 * result.layer_instructions[0]
