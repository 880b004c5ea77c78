"""Bare-metal firmware for a board: the generated model, the TinyEngine library, and the
start-up code, linker script and main rendered from src_templates/firmware/, built with
arm-none-eabi-gcc into one ELF.

The templates take only the board's memory map and counter scale, so a PlatformIO
dev-platform can render the same start-up, linker script and main for its builds.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import jinja2
import numpy as np

from . import __version__
from .boards import Board
from .build_hook import Options, arena_defines
from .codegen.emitter import _body as array_body, comment_text
from .errors import FirmwareError, MissingToolError
from .pipeline import CompiledModel, emit_sources, write_sources
from .qemu import Region, machine_for
from .resources import C_INCLUDE_DIR, C_SOURCE_DIR, TEMPLATES_DIR

GCC = "arm-none-eabi-gcc"
SIZE = "arm-none-eabi-size"
ARM_TOOLCHAIN_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi"
# The kernels are integer-only, so -Ofast changes nothing but speed: on vww on the M7, -O2
# executes 110.0 M instructions, -O3 and -Ofast 110.2 M, -Os 139.9 M, every one bit-exact.
OPTIMIZATION = "-O2"
WARNINGS = ["-std=c11", "-Wall", "-Wextra", "-Werror"]
ARENA_SECTION = ".te_arena"
MIN_STACK_BYTES = 16384
# Room kept beside the arena, in the region that also holds .data, .bss and the stack.
DATA_RESERVE_BYTES = 64 * 1024
# On a real board the program is the model and main() alone: the stack and a little .data,
# .bss and heap (the linker script checks the stack's room).
REAL_BOARD_DATA_RESERVE_BYTES = MIN_STACK_BYTES + 8 * 1024
TEMPLATES = ("linker.ld", "startup.c", "te_firmware.h", "te_firmware.c", "main.c")
# A real board's own: output through its USART, counts from the DWT cycle counter.
REAL_BOARD_TEMPLATES = {"te_firmware.c": "te_firmware_stm32.c"}


@dataclass(frozen=True)
class Uart:
    """A USART that a real board's firmware prints through, at the clocks the chip has
    out of reset (nothing configures a PLL), with only its TX pin set up.

    Register facts are from ST's reference manuals: RM0433 (STM32H743), RM0385
    (STM32F746), RM0383 (STM32F411) and RM0390 (STM32F446); pins from the boards' user
    manuals: UM2407 (Nucleo-144 H7: USART3 on PD8/PD9 to the ST-LINK virtual COM port),
    UM1907 (32F746G-DISCOVERY: USART1 on PA9/PB7 to the ST-LINK VCP), UM1724 (Nucleo-64:
    USART2 on PA2/PA3 to the ST-LINK VCP), and OpenMV's pinout (P4 = PB10, UART3 TX)."""

    name: str
    base: int
    # "isr": the STM32F7/H7 USART (CR1 0x00, BRR 0x0C, ISR 0x1C, TDR 0x28, CR1.UE bit 0);
    # "sr": the STM32F4 USART (SR 0x00, DR 0x04, BRR 0x08, CR1 0x0C, CR1.UE bit 13).
    registers: str
    clock_hz: int  # the USART's kernel clock after reset
    rcc_gpio_enable: int  # RCC register enabling the TX pin's GPIO port, and its bit
    gpio_enable_bit: int
    rcc_uart_enable: int  # RCC register enabling the USART, and its bit
    uart_enable_bit: int
    gpio_base: int
    tx_port: str
    tx_pin: int
    tx_af: int
    where: str = "the ST-LINK's virtual COM port"  # where a user reads it

    @property
    def brr(self) -> int:
        """USARTDIV with 16x oversampling: the kernel clock over the baud rate, rounded."""
        return (self.clock_hz + UART_BAUD // 2) // UART_BAUD


UART_BAUD = 115200
STM32_FLASH_START = 0x08000000
# RM0433 2.3.2 and 8.5: after reset the H743 runs on HSI at 64 MHz with every bus prescaler
# at 1, and USART2/3's kernel clock is rcc_pclk1 (RCC_D2CCIP2R.USART234578SEL = 0). RCC at
# 0x58024400: AHB4ENR (0x0E0) GPIOxEN bits 0.., APB1LENR (0x0E8) USART3EN bit 18.
_H7_USART3 = dict(name="USART3", base=0x40004800, registers="isr", clock_hz=64_000_000,
                  rcc_gpio_enable=0x58024400 + 0x0E0, rcc_uart_enable=0x58024400 + 0x0E8, uart_enable_bit=18,
                  tx_af=7)
# RM0385/RM0383/RM0390: after reset HSI at 16 MHz, APB prescalers 1. RCC at 0x40023800:
# AHB1ENR (0x30) GPIOxEN bits 0.., APB1ENR (0x40), APB2ENR (0x44).
_F4F7_RCC = 0x40023800
UARTS = {
    "nucleo_h743zi": Uart(**_H7_USART3, gpio_enable_bit=3, gpio_base=0x58020C00, tx_port="D", tx_pin=8),
    "openmv_cam_h7": Uart(**_H7_USART3, gpio_enable_bit=1, gpio_base=0x58020400, tx_port="B", tx_pin=10,
                          where="pin P4 of the camera's header (P5 is RX): a 3.3 V USB-serial adapter"),
    # USART1 on APB2 (APB2ENR USART1EN bit 4); RCC_DCKCFGR2.USART1SEL = 0 selects PCLK2.
    "disco_f746ng": Uart(name="USART1", base=0x40011000, registers="isr", clock_hz=16_000_000,
                         rcc_gpio_enable=_F4F7_RCC + 0x30, gpio_enable_bit=0, rcc_uart_enable=_F4F7_RCC + 0x44,
                         uart_enable_bit=4, gpio_base=0x40020000, tx_port="A", tx_pin=9, tx_af=7),
    # USART2 on APB1 (APB1ENR USART2EN bit 17).
    **{board: Uart(name="USART2", base=0x40004400, registers="sr", clock_hz=16_000_000,
                   rcc_gpio_enable=_F4F7_RCC + 0x30, gpio_enable_bit=0, rcc_uart_enable=_F4F7_RCC + 0x40,
                   uart_enable_bit=17, gpio_base=0x40020000, tx_port="A", tx_pin=2, tx_af=7)
       for board in ("nucleo_f446re", "nucleo_f411re")},
}


def uart_for(board: Board) -> Uart:
    if board.id not in UARTS:
        raise FirmwareError(f"board {board.id}: TinyEngine has no start-up code and UART output for it "
                            f"(real boards it has them for: {', '.join(sorted(UARTS))})")
    return UARTS[board.id]


def require_tool(name: str, packages: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MissingToolError(f"{name} is not installed; on Debian: sudo apt-get install {packages}")
    return path


@dataclass(frozen=True)
class Layout:
    """Where each part of the image goes: region names, and every region of the map."""

    vectors: str
    flash: str
    data: str
    arena: str
    regions: tuple[Region, ...]


def memory_layout(board: Board, arena_bytes: int) -> Layout:
    """The image in the machine's flash, .data/.bss/stack in the board's fastest RAM, the arena
    there too when it fits beside them, else in the first RAM region (in the board file's
    order of preference) that holds it."""
    machine = machine_for(board)
    ram, fast, arena = _ram_layout(board, arena_bytes, DATA_RESERVE_BYTES)
    vectors = machine.vectors or machine.flash
    regions = [vectors] + ([machine.flash] if machine.flash != vectors else []) + ram
    return Layout(vectors=vectors.name, flash=machine.flash.name, data=fast.name, arena=arena.name,
                  regions=tuple(regions))


def _ram_layout(board: Board, arena_bytes: int | None, reserve: int) -> tuple[list[Region], Region, Region]:
    """The board's RAM regions, the fastest (for .data, .bss and the stack) and the one for
    the arena: the fastest when the arena fits beside them (`reserve` bytes), else the first other region in
    the board file's order that holds it. An arena of unknown size (None) goes to the
    largest region."""
    ram = [Region(r.name, r.start, r.bytes) for r in board.ram_regions]
    fast = next(r for r in ram if r.name == board.fastest_ram.name)
    if arena_bytes is None:
        return ram, fast, next(r for r in ram if r.name == board.largest_ram.name)
    if arena_bytes + reserve <= fast.bytes:
        return ram, fast, fast
    arena = next((r for r in ram if r is not fast and r.bytes >= arena_bytes), None)
    if arena is None:
        raise FirmwareError(f"the model's arena of {arena_bytes:,} bytes fits in no RAM region of {board.name} "
                            f"beside .data, .bss and the stack (largest: {board.largest_ram.name}, "
                            f"{board.largest_ram.bytes:,} bytes)")
    return ram, fast, arena


def real_board_layout(board: Board, arena_bytes: int | None) -> Layout:
    """The same placement on a real board: code, constants and the vector table at the start
    of the chip's flash, where the core fetches its vectors at reset (VTOR's reset value
    on STM32 boots from main flash)."""
    uart_for(board)  # a board whose start-up and output TinyEngine knows
    ram, fast, arena = _ram_layout(board, arena_bytes, REAL_BOARD_DATA_RESERVE_BYTES)
    flash = Region("FLASH", STM32_FLASH_START, board.flash_bytes, "rx")
    return Layout(vectors=flash.name, flash=flash.name, data=fast.name, arena=arena.name,
                  regions=(flash, *ram))


def counter_scale(board: Board) -> tuple[Fraction, str]:
    """What one counter tick is worth, and what the count means: on a real board the DWT
    cycle counter counts core cycles; on a simulated one SysTick stands for it."""
    if not board.simulated:
        return Fraction(1), "core cycles, from the DWT cycle counter (CYCCNT) at the core clock."
    hz = machine_for(board).systick_hz
    # -icount shift=0: one instruction per nanosecond of virtual time.
    return (Fraction(10**9, hz),
            f"the number of instructions QEMU executed (-icount shift=0: one instruction per nanosecond, "
            f"SysTick at {hz:,} Hz), not cycles of a real core.")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "firmware")),
                              keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)


def render_firmware(board: Board, layout: Layout, model_name: str, layers: int,
                    inputs: list[np.ndarray] | None = None) -> dict[str, str]:
    """The firmware's own sources: linker script, start-up, board support, main (and
    te_inputs.c when the input bytes are given)."""
    scale, note = counter_scale(board)
    model_name = comment_text(model_name)
    context = dict(
        version=__version__, board_name=comment_text(board.name), model_name=model_name, layers=layers,
        vectors=layout.vectors, flash=layout.flash, data=layout.data, arena=layout.arena,
        regions=layout.regions, arena_section=ARENA_SECTION, min_stack_bytes=MIN_STACK_BYTES,
        count_per_tick_num=scale.numerator, count_per_tick_den=scale.denominator, counter_note=note,
    )
    real_board = not board.simulated
    if real_board:
        context.update(uart=uart_for(board), uart_baud=UART_BAUD)
    env = _environment()
    files = {}
    for name in TEMPLATES:
        template = REAL_BOARD_TEMPLATES.get(name, name) if real_board else name
        files[name] = env.get_template(template + ".j2").render(real_board=real_board, **context)
    if inputs is not None:
        data = [np.ascontiguousarray(x, dtype=np.int8).reshape(-1) for x in inputs]
        files["te_inputs.c"] = env.get_template("te_inputs.c.j2").render(
            version=__version__, model_name=model_name,
            inputs=[dict(count=d.size, body=array_body(tuple(int(v) for v in d))) for d in data])
    return files


@dataclass
class Firmware:
    elf: Path
    board: Board
    layout: Layout
    sections: dict[str, int]  # output section -> bytes (arm-none-eabi-size -A)
    portable: bool
    profile: bool

    def section(self, name: str) -> int:
        return self.sections.get(name, 0)

    def flash(self) -> dict[str, int]:
        """Bytes the image keeps in flash, per part (.data's initial values included)."""
        parts = {"vectors": ".vectors", "text": ".text", "rodata": ".rodata", "exidx": ".ARM.exidx", "data": ".data"}
        return {part: self.section(name) for part, name in parts.items()}


def _run(cmd: list[str], what: str) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise FirmwareError(f"{what} failed:\n{' '.join(cmd)[:600]}\n{result.stderr[:4000]}")
    return result.stdout


def _compile_all(command: list[str], sources: list[Path], objects: list[Path]) -> None:
    """`command -c source -o object` for each pair, in parallel."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = [pool.submit(_run, [*command, "-c", str(s), "-o", str(o)], f"compiling {s.name}")
                   for s, o in zip(sources, objects)]
        for future in futures:
            future.result()


_library_cache: dict[tuple, list[Path]] = {}
_cache_dir: Path | None = None


def _library_digest() -> str:
    h = hashlib.sha256()
    for path in sorted([*C_SOURCE_DIR.rglob("*.c"), *C_INCLUDE_DIR.glob("*.h")]):
        h.update(str(path).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def library_objects(flags: list[str]) -> list[Path]:
    """The TinyEngine library compiled once per flag set and library content in this process."""
    global _cache_dir
    key = (tuple(flags), _library_digest())
    if key not in _library_cache:
        if _cache_dir is None:
            _cache_dir = Path(tempfile.mkdtemp(prefix="te_firmware_lib_"))
            atexit.register(shutil.rmtree, _cache_dir, True)
        out = Path(tempfile.mkdtemp(dir=_cache_dir))
        sources = sorted(C_SOURCE_DIR.rglob("*.c"))
        objects = [out / (s.stem + ".o") for s in sources]
        _compile_all([GCC, *flags, "-I", str(C_INCLUDE_DIR)], sources, objects)
        _library_cache[key] = objects
    return _library_cache[key]


def compiler_flags(board: Board, optimization: str = OPTIMIZATION, portable: bool = False) -> list[str]:
    flags = [*board.compiler_flags(), *WARNINGS, optimization, "-ffunction-sections", "-fdata-sections"]
    return flags + (["-DTE_PORTABLE"] if portable else [])


def section_sizes(elf: Path) -> dict[str, int]:
    sizes = {}
    for line in _run([require_tool(SIZE, ARM_TOOLCHAIN_PACKAGES), "-A", str(elf)], "arm-none-eabi-size").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def build(model: CompiledModel, board: Board, out_dir: Path, *, inputs: list[np.ndarray] | None = None,
          portable: bool = False, profile: bool = False, optimization: str = OPTIMIZATION) -> Firmware:
    """Generate the model's C and the firmware sources into out_dir and link out_dir/firmware.elf.

    portable: compile the library with TE_PORTABLE (no SIMD paths); profile: record a
    count after every kernel call (TE_PROFILE); inputs: the input bytes to run on
    (default: main.c's fixed pattern)."""
    require_tool(GCC, ARM_TOOLCHAIN_PACKAGES)
    out_dir = Path(out_dir)
    layout = (memory_layout if board.simulated else real_board_layout)(board, model.plan.arena_bytes)
    files = emit_sources(model)
    files.update(render_firmware(board, layout, model.graph.name, len(model.kernel_calls), inputs))
    write_sources(files, out_dir)
    flags = compiler_flags(board, optimization, portable)
    defines = [f"-D{name}={value}" for name, value in arena_defines(Options(arena_section=ARENA_SECTION))]
    defines += ["-DTE_PROFILE"] if profile else []
    sources = sorted(out_dir / name for name in files if name.endswith(".c"))
    objects = [out_dir / (s.stem + ".o") for s in sources]
    _compile_all([GCC, *flags, *defines, "-I", str(C_INCLUDE_DIR), "-I", str(out_dir)], sources, objects)
    elf = out_dir / "firmware.elf"
    _run([GCC, *board.compiler_flags(), "-nostartfiles", "-T", str(out_dir / "linker.ld"), "-Wl,--gc-sections",
          f"-Wl,-Map={out_dir / 'firmware.map'}", *map(str, objects), *map(str, library_objects(flags)),
          "-o", str(elf)], "linking the firmware")
    return Firmware(elf=elf, board=board, layout=layout, sections=section_sizes(elf), portable=portable,
                    profile=profile)
