"""Firmware for the real STM32 boards links: the start-up code, linker script, USART output
and DWT counter rendered from src_templates/firmware/ for each board, with a real model,
built with arm-none-eabi-gcc both as TinyEngine builds it (-nostartfiles) and as
PlatformIO's ststm32 platform links a project without a framework (newlib-nano's start
files and nosys stubs). Then the ELF is checked: the vector table at the start of flash,
its stack pointer and reset handler, the arena in a RAM region of that board, every
section inside its region. Nothing here runs on hardware (none is attached)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from platformio_tinyengine import firmware
from platformio_tinyengine.boards import Board, find_board
from platformio_tinyengine.build_hook import Options, arena_defines
from platformio_tinyengine.errors import FirmwareError
from platformio_tinyengine.pipeline import compile_model
from platformio_tinyengine.resources import C_INCLUDE_DIR
from tests.conftest import SHARED_MODELS, requires_arm_gcc

# A model for each board that fits its flash: vww (600 KB of weights) where there is 1 MB
# or more, TFLM's person detector (300 KB) on the 512 KB STM32F4s.
MODELS = {"nucleo_h743zi": "vww.tflite", "openmv_cam_h7": "vww.tflite", "disco_f746ng": "vww.tflite",
          "nucleo_f446re": "tflm_person_detect.tflite", "nucleo_f411re": "tflm_person_detect.tflite"}
TINYENGINE = [sys.executable, "-m", "platformio_tinyengine.cli"]
# What ststm32's builder adds to a framework-free project's link.
PLATFORMIO_BARE_LINK = ["--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections"]


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: gcc-arm-none-eabi)")
    return path


def symbols(elf: Path) -> dict[str, int]:
    out = subprocess.run([tool("arm-none-eabi-nm"), str(elf)], capture_output=True, text=True, check=True).stdout
    return {parts[2]: int(parts[0], 16) for parts in (line.split() for line in out.splitlines()) if len(parts) == 3}


def sections(elf: Path) -> dict[str, tuple[int, int]]:
    """Allocated section -> (address, bytes), from `size -A`."""
    out = subprocess.run([tool("arm-none-eabi-size"), "-A", "-d", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    result = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit() and int(parts[2]) != 0:
            result[parts[0]] = (int(parts[2]), int(parts[1]))
    return result


def vector_words(elf: Path, count: int) -> list[int]:
    raw = Path(str(elf) + ".vectors.bin")
    subprocess.run([tool("arm-none-eabi-objcopy"), "-O", "binary", "--only-section=.vectors", str(elf), str(raw)],
                   check=True)
    data = raw.read_bytes()
    return [int.from_bytes(data[4 * i:4 * i + 4], "little") for i in range(count)]


def region_of(board: Board, address: int, size: int) -> str | None:
    for r in board.ram_regions:
        if r.start <= address and address + size <= r.start + r.bytes:
            return r.name
    return None


def check_elf(elf: Path, board: Board, layout: firmware.Layout, arena_bytes: int) -> None:
    syms, secs = symbols(elf), sections(elf)
    flash_start = firmware.STM32_FLASH_START
    assert secs[".vectors"][0] == flash_start, "the vector table is not at the start of flash"
    assert syms["te_vectors"] == flash_start
    stack_pointer, reset = vector_words(elf, 2)
    assert reset == syms["Reset_Handler"] | 1, "entry 1 is not the reset handler (in Thumb state)"
    assert stack_pointer == syms["__stack_top"]
    assert region_of(board, stack_pointer - 4, 4) == layout.data
    arena_address, arena_size = secs[".te_arena"]
    assert arena_size >= arena_bytes
    assert region_of(board, arena_address, arena_size) == layout.arena, "the arena is not in the planned RAM"
    flash_end = flash_start + board.flash_bytes
    in_flash = {name: size for name, (address, size) in secs.items()
                if flash_start <= address and address + size <= flash_end}
    assert sum(in_flash.values()) + secs.get(".data", (0, 0))[1] <= board.flash_bytes
    for name, (address, size) in secs.items():
        assert name in in_flash or region_of(board, address, size) is not None, \
            f"{name} lies outside {board.name}'s flash and RAM"


@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(name: str):
        path = SHARED_MODELS / name
        if not path.is_file():
            pytest.skip(f"{path} is absent (the shared model collection)")
        if name not in cache:
            cache[name] = compile_model(path)
        return cache[name]
    return get


@requires_arm_gcc
@pytest.mark.parametrize("board_id", sorted(MODELS))
def test_firmware_links_for_the_real_board(board_id, models, tmp_path):
    board = find_board(board_id)
    model = models(MODELS[board_id])
    fw = firmware.build(model, board, tmp_path)
    check_elf(fw.elf, board, fw.layout, model.plan.arena_bytes)
    # The same objects linked the way PlatformIO's ststm32 links a project without a
    # framework: newlib-nano's crt0 and nosys stubs come in, and must not disturb the image.
    objects = sorted(tmp_path.glob("*.o"))
    flags = firmware.compiler_flags(board)
    elf = tmp_path / "platformio.elf"
    result = subprocess.run([tool("arm-none-eabi-gcc"), *board.compiler_flags(), *PLATFORMIO_BARE_LINK,
                             "-T", str(tmp_path / "linker.ld"), *map(str, objects),
                             *map(str, firmware.library_objects(flags)), "-o", str(elf)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    check_elf(elf, board, fw.layout, model.plan.arena_bytes)


def test_the_arena_goes_to_dtcm_where_it_fits():
    h7, f7, f4 = find_board("nucleo_h743zi"), find_board("disco_f746ng"), find_board("nucleo_f411re")
    assert firmware.real_board_layout(h7, 60_000).arena == "DTCM"
    assert firmware.real_board_layout(h7, 120_000).arena == "AXI_SRAM"
    assert firmware.real_board_layout(f7, 30_000).arena == "DTCM"
    assert firmware.real_board_layout(f7, 100_000).arena == "SRAM1_2"
    assert firmware.real_board_layout(f4, 100_000).arena == "SRAM"
    # Not known yet (a project made without a model): the largest region.
    assert firmware.real_board_layout(h7, None).arena == "AXI_SRAM"
    with pytest.raises(FirmwareError, match="fits in no RAM region"):
        firmware.real_board_layout(f4, 200_000)
    layout = firmware.real_board_layout(h7, 1000)
    assert (layout.vectors, layout.flash, layout.data) == ("FLASH", "FLASH", "DTCM")


def test_uart_settings_follow_the_reset_clocks():
    """115200 baud from the kernel clocks after reset: within 0.1% on every board."""
    for board_id, uart in firmware.UARTS.items():
        assert find_board(board_id) is not None
        assert abs(uart.clock_hz / uart.brr / firmware.UART_BAUD - 1) < 1e-3, board_id
    assert firmware.UARTS["nucleo_h743zi"].brr == 556  # 64 MHz HSI
    assert firmware.UARTS["nucleo_f411re"].brr == 139  # 16 MHz HSI


def test_a_board_without_uart_support_is_refused_clearly():
    board = find_board("nucleo_h743zi")
    stranger = Board(id="custom_h7", name="custom", platformio_ids=("custom_h7",), core=board.core, fpu=board.fpu,
                     float_abi=board.float_abi, simd=board.simd, flash_bytes=board.flash_bytes,
                     ram_regions=board.ram_regions)
    with pytest.raises(FirmwareError, match="no start-up code and UART output"):
        firmware.real_board_layout(stranger, 1000)


def build_project(project: Path, board: Board, model: Path, work: Path) -> Path:
    """The project's sources, the generated model and the library compiled with the flags the
    TinyEngine build hook gives a board, linked with the project's linker script the way
    ststm32 links a project without a framework."""
    gen = work / "gen"
    result = subprocess.run([*TINYENGINE, "generate", str(model), "--out", str(gen)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    flags = firmware.compiler_flags(board)
    defines = [f"-D{name}={value}" for name, value in arena_defines(Options(arena_section=firmware.ARENA_SECTION))]
    sources = sorted((project / "src").glob("*.c")) + sorted(gen.glob("*.c"))
    objects = [work / f"{s.parent.name}_{s.stem}.o" for s in sources]
    firmware._compile_all([tool("arm-none-eabi-gcc"), *flags, *defines, "-I", str(C_INCLUDE_DIR), "-I", str(gen)],
                          sources, objects)
    elf = work / "project.elf"
    result = subprocess.run([tool("arm-none-eabi-gcc"), *board.compiler_flags(), *PLATFORMIO_BARE_LINK,
                             "-T", str(project / "linker.ld"), *map(str, objects),
                             *map(str, firmware.library_objects(flags)), "-o", str(elf)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return elf


@requires_arm_gcc
@pytest.mark.parametrize("board_id", ["nucleo_h743zi", "disco_f746ng", "nucleo_f411re"])
def test_new_writes_a_real_board_project_that_links(board_id, models, tmp_path):
    board = find_board(board_id)
    model_path = SHARED_MODELS / MODELS[board_id]
    model = models(MODELS[board_id])
    project = tmp_path / "project"
    made = subprocess.run([*TINYENGINE, "new", str(project), "--board", board_id, "--model", str(model_path)],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    ini = (project / "platformio.ini").read_text()
    assert "board_build.ldscript = linker.ld" in ini
    assert f"custom_tinyengine_arena_section = {firmware.ARENA_SECTION}" in ini
    main_c = (project / "src" / "main.c").read_text()
    assert "printf" in main_c and "te_counter_read" in main_c
    elf = build_project(project, board, model_path, tmp_path)
    check_elf(elf, board, firmware.real_board_layout(board, model.plan.arena_bytes), model.plan.arena_bytes)
    syms = symbols(elf)
    assert "_write" in syms, "printf's output does not go through the USART"


@requires_arm_gcc
def test_new_without_a_model_puts_the_arena_in_the_largest_ram(models, tmp_path):
    board = find_board("nucleo_h743zi")
    model = models("vww.tflite")
    project = tmp_path / "project"
    made = subprocess.run([*TINYENGINE, "new", str(project), "--board", "nucleo_h743zi"], capture_output=True,
                          text=True)
    assert made.returncode == 0, made.stderr
    readme = (project / "README.md").read_text()
    assert "model/" in readme and "fill_input()" in readme and "use_output()" in readme
    elf = build_project(project, board, SHARED_MODELS / "vww.tflite", tmp_path)
    layout = firmware.real_board_layout(board, None)
    assert layout.arena == "AXI_SRAM"
    check_elf(elf, board, layout, model.plan.arena_bytes)
