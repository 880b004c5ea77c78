"""PlatformIO for real, as a user runs it: `tinyengine offline-setup` into a PlatformIO core
directory of the test's own, `tinyengine new`, then `pio run` and `pio run -t exec` on the
simulated boards through the QEMU dev-platform, with no access to PlatformIO's registry.
What the firmware prints is compared byte for byte with TFLite's reference kernels on the
same input bytes."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from platformio_tinyengine import firmware
from platformio_tinyengine.boards import find_board
from platformio_tinyengine.build_hook import STAMP, generated_dir
from platformio_tinyengine.offline import PLATFORM_DIR, scons_release, tool_version
from platformio_tinyengine.pipeline import compile_model
from platformio_tinyengine.qemu import parse_output
from platformio_tinyengine.resources import BOARDS_DIR, C_INCLUDE_DIR, ROOT
from tests.conftest import SHARED_MODELS
from tests.reference import run_reference
from tests.test_kernel_conv import conv_model

VWW = SHARED_MODELS / "vww.tflite"
TINYENGINE = [sys.executable, "-m", "platformio_tinyengine.cli"]
PIO = [sys.executable, "-m", "platformio"]
SIMULATED = ["qemu_cortex_m7", "qemu_cortex_m4", "qemu_cortex_m55"]

requires_tools = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="qemu-system-arm or arm-none-eabi-gcc is not installed (Debian: qemu-system-arm gcc-arm-none-eabi "
           "libnewlib-arm-none-eabi)")
requires_platformio = pytest.mark.skipif(
    importlib.util.find_spec("platformio") is None or importlib.util.find_spec("SCons") is None,
    reason="platformio or scons is not installed in this Python (pip install -e .[test])")
requires_vww = pytest.mark.skipif(not VWW.is_file(), reason=f"{VWW} is absent (the shared model collection)")


def run(cmd: list[str], cwd: Path | None = None, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def log_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def pattern_inputs(model: bytes) -> list[np.ndarray]:
    """The bytes the project's main.c writes: b[k] = (int8_t)((k * 37) % 256 - 128)."""
    return [((np.arange(int(np.prod(t.shape)), dtype=np.int64) * 37) % 256 - 128).astype(np.int8).reshape(t.shape)
            for t in compile_model(model).graph.inputs]


def assert_bit_exact(model: bytes, log: str) -> int:
    """The printed outputs equal TFLite's reference on main.c's input; returns the count printed."""
    result = parse_output(log)
    expected = run_reference(model, pattern_inputs(model))
    assert len(result.outputs) == len(expected)
    for i, (got, want) in enumerate(zip(result.outputs, expected)):
        assert np.array_equal(got, want.reshape(-1)), f"output {i} differs from TFLite's reference"
    return result.instructions


def small_model(seed: int) -> bytes:
    """A 3x3 convolution with ReLU on an odd-sized input: every kernel path has a tail."""
    return conv_model(np.random.default_rng(seed), 9, 11, 5, 7, activation=1)


def oversized_model() -> bytes:
    """A 1x1 convolution of 1024x1024x4 int8 to 8 channels: its output alone needs 8 MiB of arena,
    more than any RAM region of the simulated Cortex-M7 (4 MiB)."""
    return conv_model(np.random.default_rng(1), 1024, 1024, 4, 8, k=(1, 1))


@pytest.fixture(scope="module")
def pio_env(tmp_path_factory) -> dict:
    """A PlatformIO core directory of this module's own, set up by `tinyengine offline-setup`."""
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm or arm-none-eabi-gcc is not installed")
    if importlib.util.find_spec("platformio") is None or importlib.util.find_spec("SCons") is None:
        pytest.skip("platformio or scons is not installed in this Python")
    core = tmp_path_factory.mktemp("pio") / "core dir"
    result = run([*TINYENGINE, "offline-setup", "--core-dir", str(core)])
    assert result.returncode == 0, log_of(result)
    return dict(os.environ, PLATFORMIO_CORE_DIR=str(core))


def new_project(directory: Path, board: str, model: Path | None = None) -> Path:
    cmd = [*TINYENGINE, "new", str(directory), "--board", board] + (["--model", str(model)] if model else [])
    result = run(cmd)
    assert result.returncode == 0, log_of(result)
    return directory


@pytest.fixture(scope="module")
def vww_project(pio_env, tmp_path_factory):
    """vww on the simulated Cortex-M7, generated and run once for the module."""
    if not VWW.is_file():
        pytest.skip(f"{VWW} is absent (the shared model collection)")
    project = new_project(tmp_path_factory.mktemp("vww") / "my vww project", "qemu_cortex_m7", VWW)
    result = run([*PIO, "run", "-t", "exec"], cwd=project, env=pio_env)
    return project, result


@requires_tools
@requires_platformio
@requires_vww
def test_vww_runs_on_simulated_m7_bit_exact(vww_project):
    project, result = vww_project
    log = log_of(result)
    assert result.returncode == 0, log[-4000:]
    assert "[tinyengine] generated vww.tflite" in log
    instructions = assert_bit_exact(VWW.read_bytes(), log)
    assert instructions > compile_model(VWW.read_bytes()).total_macs / 10
    assert not list((project / "src").glob("genModel*")), "generated sources belong in the build directory"


@requires_tools
@requires_platformio
@requires_vww
def test_second_build_does_not_regenerate(vww_project, pio_env):
    project, first = vww_project
    assert first.returncode == 0, log_of(first)[-4000:]
    gen = generated_dir(project / ".pio" / "build" / "qemu_cortex_m7")
    before = {p.name: p.stat().st_mtime_ns for p in gen.iterdir()}
    assert {"genModel.c", "genModel.h", "genMemory.h", STAMP} <= set(before)
    result = run([*PIO, "run"], cwd=project, env=pio_env)
    log = log_of(result)
    assert result.returncode == 0, log[-4000:]
    assert "[tinyengine] generated" not in log
    assert {p.name: p.stat().st_mtime_ns for p in gen.iterdir()} == before


@requires_tools
@requires_platformio
@pytest.mark.parametrize("board", ["qemu_cortex_m4", "qemu_cortex_m55"])
def test_small_model_runs_bit_exact(board, pio_env, tmp_path):
    model = tmp_path / "conv.tflite"
    model.write_bytes(small_model(seed=3))
    project = new_project(tmp_path / "conv project", board, model)
    if board == "qemu_cortex_m55":
        # The arena in a section the project names: the option reaches the compiler through SCons.
        with open(project / "platformio.ini", "a") as ini:
            ini.write("custom_tinyengine_arena_section = .te_arena\n")
    result = run([*PIO, "run", "-t", "exec"], cwd=project, env=pio_env)
    log = log_of(result)
    assert result.returncode == 0, log[-4000:]
    assert f"QEMU {find_board(board).qemu['machine']}" in log
    assert_bit_exact(model.read_bytes(), log)


@requires_tools
@requires_platformio
def test_a_failing_firmware_fails_exec(pio_env, tmp_path):
    model = tmp_path / "conv.tflite"
    model.write_bytes(small_model(seed=4))
    project = new_project(tmp_path / "failing", "qemu_cortex_m7", model)
    main_c = project / "src" / "main.c"
    main_c.write_text(main_c.read_text().replace("    return 0;\n}", "    return 3;\n}"))
    result = run([*PIO, "run", "-t", "exec"], cwd=project, env=pio_env)
    assert result.returncode != 0
    assert "the firmware exited with status 3" in log_of(result)


@pytest.fixture
def empty_project(pio_env, tmp_path) -> Path:
    project = new_project(tmp_path / "no model yet", "qemu_cortex_m7")
    assert list((project / "model").iterdir()) == []
    assert "put yours" in (project / "README.md").read_text()
    return project


def assert_build_fails(project: Path, env: dict, message: str) -> None:
    result = run([*PIO, "run"], cwd=project, env=env)
    log = log_of(result)
    assert result.returncode != 0, log[-4000:]
    errors = [line for line in log.splitlines() if line.startswith("[tinyengine] ERROR:")]
    assert len(errors) == 1 and message in errors[0], log[-4000:]
    assert "Traceback" not in log
    assert "Linking" not in log


@requires_tools
@requires_platformio
def test_build_fails_clearly_without_a_model(empty_project, pio_env):
    assert_build_fails(empty_project, pio_env, "no model: put one .tflite file in")


@requires_tools
@requires_platformio
def test_build_fails_clearly_with_two_models(empty_project, pio_env):
    for name, seed in (("a.tflite", 1), ("b.tflite", 2)):
        (empty_project / "model" / name).write_bytes(small_model(seed))
    assert_build_fails(empty_project, pio_env, "several models")


@requires_tools
@requires_platformio
def test_build_fails_clearly_with_a_corrupt_model(empty_project, pio_env):
    good = small_model(5)
    (empty_project / "model" / "net.tflite").write_bytes(good[: len(good) // 3])
    assert_build_fails(empty_project, pio_env, "net.tflite")


@requires_tools
@requires_platformio
def test_build_fails_clearly_when_the_arena_does_not_fit(empty_project, pio_env):
    (empty_project / "model" / "big.tflite").write_bytes(oversized_model())
    assert_build_fails(empty_project, pio_env, "bytes too many")


def test_new_for_a_real_board_is_generated_framework_free(tmp_path):
    model = tmp_path / "conv.tflite"
    model.write_bytes(small_model(seed=6))
    project = new_project(tmp_path / "h7 project", "nucleo_h743zi", model)
    ini = (project / "platformio.ini").read_text()
    settings = [line.split("=", 1)[0].strip() for line in ini.splitlines() if "=" in line and not line.startswith(";")]
    assert "[env:nucleo_h743zi]" in ini and "board = nucleo_h743zi" in ini
    assert "platform = ststm32" in ini
    assert "framework" not in settings
    assert f"TinyEngine=symlink://{ROOT}" in ini
    assert (project / "model" / "conv.tflite").read_bytes() == model.read_bytes()
    main_c = (project / "src" / "main.c").read_text()
    assert '#include "genModel.h"' in main_c and "DWT_CYCCNT" in main_c


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
@pytest.mark.parametrize("board", ["nucleo_h743zi", "qemu_cortex_m55"])
def test_generated_main_compiles_cleanly(board, tmp_path):
    """The project's main.c against a generated model, with every warning an error."""
    model = tmp_path / "conv.tflite"
    model.write_bytes(small_model(seed=7))
    project = new_project(tmp_path / "project", board, model)
    gen = tmp_path / "gen"
    assert run([*TINYENGINE, "generate", str(model), "--out", str(gen)]).returncode == 0
    includes = ["-I", str(gen), "-I", str(C_INCLUDE_DIR)]
    if find_board(board).simulated:
        b = find_board(board)
        header = firmware.render_firmware(b, firmware.memory_layout(b, 0), "", 0)["te_firmware.h"]
        (gen / "te_firmware.h").write_text(header)
    result = run(["arm-none-eabi-gcc", *find_board(board).compiler_flags(), "-std=c11", "-Wall", "-Wextra",
                  "-Werror", *includes, "-c", str(project / "src" / "main.c"), "-o", str(tmp_path / "main.o")])
    assert result.returncode == 0, result.stderr


def test_new_refuses_clearly(tmp_path):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    cases = [
        (["new", str(occupied), "--board", "qemu_cortex_m7"], "is not an empty directory"),
        (["new", str(tmp_path / "a"), "--board", "no_such_board"], "unknown board 'no_such_board'"),
        (["new", str(tmp_path / "b"), "--board", "qemu_cortex_m7", "--model", str(tmp_path / "none.tflite")],
         "no such file"),
    ]
    for args, message in cases:
        result = run([*TINYENGINE, *args])
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("error:") == 1
    assert (occupied / "notes.txt").read_text() == "mine" and not (tmp_path / "a").exists()


@requires_platformio
def test_offline_setup_is_idempotent_and_makes_what_platformio_asks_for(tmp_path):
    import SCons
    from platformio.dependencies import get_core_dependencies

    core = tmp_path / "core"
    first = run([*TINYENGINE, "offline-setup", "--core-dir", str(core)])
    assert first.returncode == 0 and "tool-scons 4." in first.stderr and " installed in" in first.stderr, first.stderr
    second = run([*TINYENGINE, "offline-setup", "--core-dir", str(core)])
    assert second.returncode == 0 and "already installed" in second.stderr, second.stderr
    package = core / "packages" / "tool-scons"
    manifest = json.loads((package / "package.json").read_text())
    assert manifest == {**manifest, "name": "tool-scons", "version": tool_version(SCons.__version__)}
    assert json.loads((package / ".piopm").read_text())["spec"]["owner"] == "platformio"
    assert get_core_dependencies()["tool-scons"] == "~" + manifest["version"]
    listed = run([*PIO, "pkg", "list", "--global", "--only-platforms"], env=dict(os.environ, PLATFORMIO_CORE_DIR=str(core)))
    assert listed.returncode == 0 and "tinyengine-qemu" in listed.stdout, log_of(listed)


@pytest.mark.parametrize("missing", ["platformio", "SCons"])
def test_offline_setup_says_what_is_missing(missing, tmp_path):
    # The module made unimportable in that Python, as if it were not installed.
    code = f"import sys; sys.modules[{missing!r}] = None; from platformio_tinyengine.cli import main; main()"
    result = run([sys.executable, "-c", code, "offline-setup", "--core-dir", str(tmp_path / "core")])
    assert result.returncode == 1, log_of(result)
    assert f"{missing.lower()} is not installed" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "core").exists()


def test_tool_version_follows_platformio_numbering():
    assert tool_version("4.11.1") == "4.41101.0"
    assert tool_version("4.8.1") == "4.40801.0"
    for release in ("4.11.1", "4.8.1", "5.0.12"):
        assert scons_release(tool_version(release)) == release


@pytest.mark.parametrize("board", SIMULATED)
def test_platform_board_manifests_agree_with_board_files(board):
    manifest = json.loads((PLATFORM_DIR / "boards" / f"{board}.json").read_text())
    ours = yaml.safe_load((BOARDS_DIR / f"{board}.yaml").read_text())
    b = find_board(board)
    assert manifest["build"]["cpu"] == ours["core"] and manifest["build"]["mcu"] == ours["mcu"]
    assert manifest["upload"]["maximum_size"] == ours["flash_bytes"]
    assert manifest["upload"]["maximum_ram_size"] == b.largest_ram.bytes
    assert manifest["build"]["f_cpu"] == f"{ours['clock_hz']}L"


def test_platform_version_is_the_package_version():
    from platformio_tinyengine import __version__

    assert json.loads((PLATFORM_DIR / "platform.json").read_text())["version"] == __version__


def test_the_model_names_a_too_small_board_in_new(tmp_path):
    big = tmp_path / "big.tflite"
    big.write_bytes(oversized_model())
    result = run([*TINYENGINE, "new", str(tmp_path / "p"), "--board", "qemu_cortex_m7", "--model", str(big)])
    assert result.returncode == 1 and "bytes too many" in result.stderr, result.stderr
    assert not (tmp_path / "p").exists()


def test_a_model_without_the_suffix_lands_where_the_build_looks(tmp_path):
    model = tmp_path / "conv.bin"
    model.write_bytes(small_model(seed=8))
    project = new_project(tmp_path / "p", "qemu_cortex_m4", model)
    assert [p.name for p in (project / "model").iterdir()] == ["conv.tflite"]


@requires_tools
@requires_platformio
def test_paths_with_spaces_everywhere(tmp_path):
    """The library, the dev-platform, the PlatformIO core directory and the project all under
    paths with spaces (a copy of this checkout at one)."""
    repo = tmp_path / "tiny engine copy"
    repo.mkdir()
    shutil.copy(ROOT / "library.json", repo)
    for name in ("TinyEngine", "builder", "src_templates", "boards", "platformio_tinyengine"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(repo), PLATFORMIO_CORE_DIR=str(tmp_path / "pio core"))
    # Run from tmp_path: `python -m` puts the working directory first on sys.path.
    setup = run([*TINYENGINE, "offline-setup"], cwd=tmp_path, env=env)
    assert setup.returncode == 0 and str(repo) in setup.stderr, log_of(setup)
    model = tmp_path / "conv.tflite"
    model.write_bytes(small_model(seed=9))
    project = tmp_path / "my project"
    made = run([*TINYENGINE, "new", str(project), "--board", "qemu_cortex_m7", "--model", str(model)], cwd=tmp_path,
               env=env)
    assert made.returncode == 0, log_of(made)
    assert f"symlink://{repo}" in (project / "platformio.ini").read_text()
    result = run([*PIO, "run", "-t", "exec"], cwd=project, env=env)
    assert result.returncode == 0, log_of(result)[-4000:]
    assert_bit_exact(model.read_bytes(), log_of(result))


@requires_tools
@requires_platformio
def test_an_arena_larger_than_dtcm_goes_to_sram_on_m55(pio_env, tmp_path):
    """The linker script is rendered once the model is generated: an arena of 512 KiB (the
    1x1 convolution's output overlaps its input) does not fit the M55's 512 KiB DTCM beside
    .data, .bss and the stack, so it lands in the next RAM region (SRAM)."""
    model = tmp_path / "wide.tflite"
    model.write_bytes(conv_model(np.random.default_rng(10), 256, 256, 8, 8, k=(1, 1)))
    project = new_project(tmp_path / "wide", "qemu_cortex_m55", model)
    result = run([*PIO, "run", "-t", "exec"], cwd=project, env=pio_env)
    assert result.returncode == 0, log_of(result)[-4000:]
    assert_bit_exact(model.read_bytes(), log_of(result))
    elf = project / ".pio" / "build" / "qemu_cortex_m55" / "firmware.elf"
    sections = run(["arm-none-eabi-size", "-A", str(elf)]).stdout
    arena = next(line.split() for line in sections.splitlines() if line.startswith(".te_arena"))
    regions = {r.name: r for r in find_board("qemu_cortex_m55").ram_regions}
    assert int(arena[1]) > regions["DTCM"].bytes - firmware.DATA_RESERVE_BYTES
    assert regions["SRAM"].start <= int(arena[2]) < regions["SRAM"].start + regions["SRAM"].bytes
