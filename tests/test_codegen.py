"""Properties of the generated code: deterministic, warning-free for the host and for
Cortex-M, and calling only kernels the library has."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from platformio_tinyengine.codegen.emitter import library_kernels
from platformio_tinyengine.pipeline import compile_model, emit_sources, write_sources
from platformio_tinyengine.resources import C_INCLUDE_DIR, C_SOURCE_DIR, ROOT
from tests.conftest import SHARED_MODELS, requires_arm_gcc, requires_shared_models
from tests.test_kernel_conv import conv_model, fc_model

ARM_FLAGS = ["-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"]
STRICT = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2"]


def small_model() -> bytes:
    return conv_model(np.random.default_rng(0), 6, 6, 3, 4)


def test_generation_is_deterministic(tmp_path):
    model = small_model()
    first = emit_sources(compile_model(model))
    second = emit_sources(compile_model(model))
    assert first == second


@requires_shared_models
def test_generation_is_byte_identical_across_processes(tmp_path):
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        subprocess.run([sys.executable, "-m", "platformio_tinyengine.cli", "generate",
                        str(SHARED_MODELS / "detection.tflite"), "--out", str(out)],
                       check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed}, cwd=tmp_path)
        outs.append({p.name: p.read_bytes() for p in out.iterdir()})
    assert outs[0] == outs[1]


def test_only_library_kernels_are_called():
    """Every kernel name a lowering can emit is declared in the library's headers and defined in its sources."""
    declared = library_kernels()
    lowering_dir = ROOT / "platformio_tinyengine" / "lowering"
    emitted = set()
    for src in lowering_dir.glob("*.py"):
        emitted.update(re.findall(r'"(te_\w+_s8)"', src.read_text()))
    assert emitted, "no kernel names found in the lowerings"
    assert emitted <= declared, f"lowerings name undeclared kernels: {sorted(emitted - declared)}"
    defined = set()
    for src in C_SOURCE_DIR.rglob("*.c"):
        defined.update(re.findall(r"^te_status\s+(te_\w+)\s*\(", src.read_text(), re.MULTILINE))
    assert declared <= defined, f"declared but not defined: {sorted(declared - defined)}"


def arm_compile(gen_dir: Path, out_dir: Path) -> None:
    sources = [*sorted(gen_dir.glob("*.c")), *sorted(C_SOURCE_DIR.rglob("*.c"))]
    for src in sources:
        result = subprocess.run(["arm-none-eabi-gcc", *STRICT, *ARM_FLAGS, "-I", str(C_INCLUDE_DIR), "-I", str(gen_dir),
                                 "-c", str(src), "-o", str(out_dir / (src.stem + ".o"))],
                                capture_output=True, text=True)
        assert result.returncode == 0, f"{src.name}:\n{result.stderr[:3000]}"


@requires_arm_gcc
def test_builds_for_cortex_m7_without_warnings(tmp_path):
    write_sources(emit_sources(compile_model(small_model())), tmp_path / "gen")
    arm_compile(tmp_path / "gen", tmp_path)


@requires_arm_gcc
@requires_shared_models
@pytest.mark.parametrize("name", ["vww.tflite", "detection.tflite", "mcunetv2_large.tflite"])
def test_shipped_model_builds_for_cortex_m7(tmp_path, name):
    write_sources(emit_sources(compile_model(SHARED_MODELS / name)), tmp_path / "gen")
    arm_compile(tmp_path / "gen", tmp_path)


def test_weights_are_const_and_no_malloc(tmp_path):
    files = emit_sources(compile_model(small_model()))
    body = files["genModel.c"]
    assert "malloc" not in body
    arrays = re.findall(r"^(static const )?(?:_Alignas\(\d+\) )?\w+ (\w+)\[\d+\] = \{", body, re.MULTILINE)
    assert arrays and all(const for const, _ in arrays), "every array with an initialiser must be const"
    for src in C_SOURCE_DIR.rglob("*.c"):
        assert "malloc" not in src.read_text(), src.name


def test_fully_connected_weights_are_word_aligned():
    """te_fully_connected_s8's DSP loop loads its filter with LDM, which faults where the
    filter is not word-aligned: C leaves an int8_t array's alignment to the compiler (GCC for
    Arm word-aligns arrays at -O2, not at -Os)."""
    model = compile_model(fc_model(np.random.default_rng(0), 1, 12, 5))
    body = emit_sources(model)["genModel.c"]
    symbol = next(c.params["filter"].symbol for c in model.kernel_calls if c.kernel == "te_fully_connected_s8")
    assert re.search(rf"^static const _Alignas\(4\) int8_t {symbol}\[", body, re.MULTILINE)
