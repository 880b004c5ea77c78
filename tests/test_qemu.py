"""Generated models as bare-metal firmware on simulated Cortex-M4, M7 and M55 (QEMU), where
the kernels' Arm SIMD paths run: every output byte against TFLite's reference kernels."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from platformio_tinyengine import firmware, qemu
from platformio_tinyengine.boards import resolve_board
from platformio_tinyengine.cli import main
from platformio_tinyengine.codegen.emitter import constant_bytes
from platformio_tinyengine.errors import FirmwareError, MissingToolError
from platformio_tinyengine.pipeline import compile_model
from platformio_tinyengine.resources import C_INCLUDE_DIR
from tests.conftest import SHARED_MODELS
from tests.kernel_check import bias_for, scale, weights
from tests.test_kernel_conv import FC_CASES, FC_EDGE_CASES, add_fc
from tests.model_builder import ModelBuilder
from tests.reference import run_reference

requires_qemu = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="qemu-system-arm or arm-none-eabi-gcc is not installed (Debian: qemu-system-arm gcc-arm-none-eabi "
           "libnewlib-arm-none-eabi; scripts/setup.sh installs them)")

BOARDS = ["qemu_cortex_m7", "qemu_cortex_m4", "qemu_cortex_m55"]
VWW = SHARED_MODELS / "vww.tflite"

# Pointwise convolutions on the shapes the DSP path of conv_1x1_s8.c treats specially:
# odd pixel counts (the last pixel pairs with itself), odd output channels (the last
# channel too), input channels not a multiple of 4 (the scalar tail after SMLAD), fewer
# than 4 (no SMLAD at all), and the extreme input zero points -128 and 127, each with
# random and constant extreme inputs.
POINTWISE_CASES = {
    "odd_pixels_odd_channels": dict(h=3, w=5, cin=7, cout=5, zp=-128, fill="random"),
    "cin_9_zp_127": dict(h=2, w=3, cin=9, cout=6, zp=127, fill="random"),
    "cin_4_single_output": dict(h=1, w=3, cin=4, cout=1, zp=-128, fill="random"),
    "cin_3_no_simd_loop": dict(h=3, w=3, cin=3, cout=4, zp=5, fill="random"),
    "one_pixel_cin_13": dict(h=1, w=1, cin=13, cout=3, zp=127, fill="random"),
    "wide_all_minus_128": dict(h=3, w=3, cin=67, cout=9, zp=127, fill=-128),
    "wide_all_127": dict(h=1, w=5, cin=66, cout=7, zp=-128, fill=127),
    "deep_cin_255_relu6": dict(h=3, w=1, cin=255, cout=11, zp=-128, fill="random", activation=3),
    "batch_2_cin_6": dict(h=1, w=3, cin=6, cout=3, zp=-1, fill="random", batch=2),
}


def pointwise_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray]]:
    """One model with every case as its own input -> CONV_2D 1x1 -> output branch, and its inputs."""
    b = ModelBuilder()
    inputs = []
    for name, c in POINTWISE_CASES.items():
        batch = c.get("batch", 1)
        s_in = scale(rng, 0.01, 0.1)
        x = b.input(f"{name}_x", (batch, c["h"], c["w"], c["cin"]), "int8", s_in, c["zp"])
        w_scales = np.array([scale(rng, 0.001, 0.02) for _ in range(c["cout"])], np.float32)
        w_data = weights(rng, (c["cout"], 1, 1, c["cin"]))
        w_data[0, 0, 0, : min(3, c["cin"])] = [-127, 127, -127][: min(3, c["cin"])]
        wt = b.const(f"{name}_w", w_data, w_scales, 0, axis=0)
        bias, bias_scales = bias_for(rng, c["cout"], s_in, w_scales)
        y = b.tensor(f"{name}_y", (batch, c["h"], c["w"], c["cout"]), "int8", scale(rng, 0.02, 0.5),
                     int(rng.integers(-128, 128)))
        b.op("CONV_2D", [x, wt, b.const(f"{name}_b", bias, bias_scales, 0)], [y], version=3, padding=1,
             stride_h=1, stride_w=1, dilation_h_factor=1, dilation_w_factor=1,
             fused_activation_function=c.get("activation", 0))
        b.output(y)
        shape = (batch, c["h"], c["w"], c["cin"])
        fill = c["fill"]
        inputs.append(rng.integers(-128, 128, size=shape, dtype=np.int8) if fill == "random"
                      else np.full(shape, fill, dtype=np.int8))
    return b.finish(), inputs


def run_firmware(model: bytes, board_id: str, inputs: list[np.ndarray], out_dir, **build_options) -> qemu.RunResult:
    board = resolve_board(board_id)
    image = firmware.build(compile_model(model), board, out_dir, inputs=inputs, **build_options)
    return qemu.run(image.elf, board)


def run_bare_main(board_id: str, main_c: str, tmp_path, *sources) -> str:
    """A firmware of the board's start-up code and linker script around main_c and sources, run
    under QEMU; its output (the run must exit 0)."""
    board = resolve_board(board_id)
    files = firmware.render_firmware(board, firmware.memory_layout(board, 1024), "bare_main", 1)
    files["main.c"] = main_c
    paths = []
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        if name.endswith(".c"):
            paths.append(str(tmp_path / name))
    elf = tmp_path / "bare_main.elf"
    subprocess.run([firmware.GCC, *firmware.compiler_flags(board), "-I", str(C_INCLUDE_DIR), "-I", str(tmp_path),
                    "-nostartfiles", "-T", str(tmp_path / "linker.ld"), *paths, *map(str, sources), "-o", str(elf)],
                   check=True, capture_output=True)
    run = subprocess.run(qemu.qemu_command(elf, board), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (run.stderr + run.stdout)[-2000:]
    return run.stderr + run.stdout


def assert_matches_reference(model: bytes, inputs: list[np.ndarray], result: qemu.RunResult, names=None) -> None:
    expected = run_reference(model, inputs)
    assert len(result.outputs) == len(expected)
    for i, (got, want) in enumerate(zip(result.outputs, expected)):
        label = names[i] if names else f"output {i}"
        np.testing.assert_array_equal(got, want.reshape(-1), err_msg=label)


@requires_qemu
def test_pointwise_kernel_takes_the_dsp_path():
    """The cases below test SMLAD only if the library really compiles it for these cores (the M55
    takes the Helium path instead: tests/test_qemu_mve.py)."""
    for board_id in ("qemu_cortex_m7", "qemu_cortex_m4"):
        flags = firmware.compiler_flags(resolve_board(board_id))
        for portable, expected in ((False, True), (True, False)):
            obj = next(o for o in firmware.library_objects(flags + (["-DTE_PORTABLE"] if portable else []))
                       if o.stem == "conv_1x1_s8")
            disassembly = subprocess.run(["arm-none-eabi-objdump", "-d", str(obj)], capture_output=True,
                                         text=True, check=True).stdout
            assert ("smlad" in disassembly) == expected, (board_id, portable)


@requires_qemu
@pytest.mark.parametrize("board_id", BOARDS)
def test_pointwise_edge_shapes_bit_exact(board_id, tmp_path):
    model, inputs = pointwise_model(np.random.default_rng(7))
    compiled = compile_model(model)
    assert {c.kernel for c in compiled.kernel_calls} == {"te_conv_1x1_s8"}
    result = run_firmware(model, board_id, inputs, tmp_path)
    assert_matches_reference(model, inputs, result, names=list(POINTWISE_CASES))


@requires_qemu
@pytest.mark.parametrize("board_id", BOARDS)
def test_fully_connected_edge_shapes_bit_exact(board_id, tmp_path):
    """te_fully_connected_s8's four-row LDM loop, its groups of fewer rows and last words, the
    filter offset, the requantisation outside the single-SMLAL range."""
    rng = np.random.default_rng(23)
    b = ModelBuilder()
    inputs = []
    cases = {**FC_CASES, **FC_EDGE_CASES}
    for name, case in cases.items():
        _, shape = add_fc(b, rng, name, **case)
        inputs.append(rng.integers(-128, 128, size=shape, dtype=np.int8))
    model = b.finish()
    assert {c.kernel for c in compile_model(model).kernel_calls} == {"te_fully_connected_s8"}
    assert_matches_reference(model, inputs, run_firmware(model, board_id, inputs, tmp_path), names=list(cases))


@requires_qemu
@pytest.mark.skipif(not VWW.is_file(), reason=f"{VWW} is absent (the shared model collection)")
@pytest.mark.parametrize("board_id", BOARDS)
def test_vww_bit_exact(board_id, tmp_path):
    model = VWW.read_bytes()
    compiled = compile_model(model)
    rng = np.random.default_rng(11)
    inputs = [rng.integers(-128, 128, size=t.shape, dtype=np.int8) for t in compiled.graph.inputs]
    result = run_firmware(model, board_id, inputs, tmp_path)
    assert_matches_reference(model, inputs, result)
    # One instruction does at most 16 MACs (VMLADAVA.S8 on the M55); the DSP cores stay above one.
    assert result.instructions > compiled.total_macs // (16 if board_id == "qemu_cortex_m55" else 1)


@requires_qemu
@pytest.mark.skipif(not VWW.is_file(), reason=f"{VWW} is absent (the shared model collection)")
def test_vww_firmware_flash_under_500_kib(tmp_path):
    """The speed issue's flash budget (TinyEngine's published figure is 521 kB): weights, biases,
    requantisation parameters, kernels and start-up, as `tinyengine bench` builds it."""
    image = firmware.build(compile_model(VWW.read_bytes()), resolve_board("qemu_cortex_m7"), tmp_path, profile=True)
    assert sum(image.flash().values()) < 500 * 1024, image.flash()


def test_arena_goes_to_the_first_ram_region_that_holds_it():
    m55 = resolve_board("qemu_cortex_m55")
    small = firmware.memory_layout(m55, 100_000)
    assert (small.vectors, small.flash, small.data, small.arena) == ("ITCM", "QSPI", "DTCM", "DTCM")
    assert firmware.memory_layout(m55, 1_200_000).arena == "SRAM"
    assert firmware.memory_layout(m55, 3_000_000).arena == "SRAM2"
    with pytest.raises(FirmwareError, match="fits in no RAM region"):
        firmware.memory_layout(resolve_board("qemu_cortex_m7"), 5_000_000)
    with pytest.raises(FirmwareError, match="not simulated"):
        firmware.memory_layout(resolve_board("nucleo_f411re"), 1000)


def test_missing_qemu_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError, match="apt-get install qemu-system-arm"):
        qemu.run(tmp_path / "firmware.elf", resolve_board("qemu_cortex_m7"))
    with pytest.raises(MissingToolError, match="gcc-arm-none-eabi"):
        firmware.require_tool(firmware.GCC, firmware.ARM_TOOLCHAIN_PACKAGES)


def small_model(rng: np.random.Generator) -> bytes:
    """3x3 convolution, depthwise convolution, pointwise convolution: three kernels."""
    b = ModelBuilder()
    s_x = scale(rng, 0.01, 0.1)
    x = b.input("x", (1, 12, 12, 3), "int8", s_x, -128)
    tensor, channels, s_in = x, 3, s_x
    for i, (kind, k, cout) in enumerate((("CONV_2D", 3, 16), ("DEPTHWISE_CONV_2D", 3, 16), ("CONV_2D", 1, 32))):
        depthwise = kind == "DEPTHWISE_CONV_2D"
        w_scales = np.array([scale(rng, 0.001, 0.02) for _ in range(cout)], np.float32)
        shape = (1, k, k, cout) if depthwise else (cout, k, k, channels)
        wt = b.const(f"w{i}", weights(rng, shape), w_scales, 0, axis=3 if depthwise else 0)
        bias, bias_scales = bias_for(rng, cout, s_in, w_scales)
        s_out = scale(rng, 0.02, 0.2)
        y = b.tensor(f"y{i}", (1, 12, 12, cout), "int8", s_out, int(rng.integers(-128, 128)))
        options = dict(padding=0, stride_h=1, stride_w=1, dilation_h_factor=1, dilation_w_factor=1)
        if depthwise:
            options["depth_multiplier"] = 1
        b.op(kind, [tensor, wt, b.const(f"b{i}", bias, bias_scales, 0)], [y], version=3, **options)
        tensor, channels, s_in = y, cout, s_out
    b.output(tensor)
    return b.finish()


@requires_qemu
def test_bench_json(tmp_path):
    path = tmp_path / "small.tflite"
    path.write_bytes(small_model(np.random.default_rng(5)))
    compiled = compile_model(path)
    result = CliRunner().invoke(main, ["bench", str(path), "--board", "qemu_cortex_m7", "--compare", "portable",
                                       "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    macs = compiled.total_macs
    assert (report["board"], report["machine"], report["macs"]) == ("qemu_cortex_m7", "mps2-an500", macs)
    assert "instructions" in report["counter"] and "not cycles" in report["counter"]
    assert [layer["kernel"] for layer in report["layers"]] == ["te_conv_s8", "te_depthwise_conv_s8_fast", "te_conv_1x1_s8"]
    assert [layer["macs"] for layer in report["layers"]] == [c.macs for c in compiled.kernel_calls]
    for name in ("simd", "portable"):
        variant = report["variants"][name]
        total = variant["instructions"]
        assert macs / 10 < total < macs * 50
        per_layer = [layer["instructions"][name] for layer in report["layers"]]
        assert all(n > 0 for n in per_layer)
        # The layers account for te_invoke() but for its call and the last counter read.
        assert 0 <= total - sum(per_layer) < 1000
        assert variant["macs_per_instruction"] == pytest.approx(macs / total, rel=1e-3)
        ram, flash = variant["ram"], variant["flash"]
        assert ram["arena"] >= compiled.plan.arena_bytes and 0 < ram["stack"] < firmware.MIN_STACK_BYTES
        assert ram["peak"] == ram["arena"] + ram["data"] + ram["bss"] + ram["stack"]
        assert flash["rodata"] >= constant_bytes(list(compiled.context.constants.values()))
        assert flash["total"] == sum(v for k, v in flash.items() if k != "total")
    pointwise = report["layers"][2]["instructions"]
    assert pointwise["simd"] < pointwise["portable"], "SMLAD should save instructions on the pointwise layer"
    assert {k["kernel"] for k in report["kernels"]} == {layer["kernel"] for layer in report["layers"]}


@requires_qemu
def test_bench_patch_based(tmp_path):
    """--patch runs the patch-based plan as firmware: its per-patch calls are the layers and the
    arena the firmware reserves is the patched plan's."""
    path = tmp_path / "small.tflite"
    path.write_bytes(small_model(np.random.default_rng(5)))
    patched = compile_model(path, patch="2x2@1")
    result = CliRunner().invoke(main, ["bench", str(path), "--patch", "2x2@1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["patch"]["grid"] == [2, 2] and report["macs"] == patched.total_macs
    assert [layer["kernel"] for layer in report["layers"]] == [c.kernel for c in patched.kernel_calls]
    arena = report["variants"]["simd"]["ram"]["arena"]
    assert 0 <= arena - patched.plan.arena_bytes < 8


def test_bench_refuses_a_board_that_is_not_simulated(tmp_path):
    path = tmp_path / "small.tflite"
    path.write_bytes(small_model(np.random.default_rng(5)))
    result = CliRunner().invoke(main, ["bench", str(path), "--board", "nucleo_f411re"])
    assert result.exit_code == 1
    assert "not simulated" in result.output
