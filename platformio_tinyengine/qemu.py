"""Run a firmware ELF on a simulated board with qemu-system-arm and read what it printed.

QEMU runs with -icount shift=0 (one instruction per nanosecond of virtual time), so the
firmware's SysTick readings count instructions, exactly and reproducibly; they are not
the cycles of a real core (QEMU models no pipeline, caches or wait states).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .boards import Board
from .errors import FirmwareError, MissingToolError

QEMU = "qemu-system-arm"
QEMU_PACKAGE = "qemu-system-arm"
DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Region:
    name: str
    start: int
    bytes: int
    access: str = "rwx"


@dataclass(frozen=True)
class Machine:
    """What a QEMU machine model offers a firmware image beyond the board's RAM regions."""

    flash: Region  # where -kernel loads code and constants
    systick_hz: int  # SysTick's core clock (CLKSOURCE=1)
    vectors: Region | None = None  # where the core reads its vector table at reset, if not flash


_MPS2_SSRAM1 = Region("SSRAM1", 0x00000000, 4 << 20, "rx")
# Measured with QEMU 7.2 (`info mtree` and firmware probes; see tests/test_qemu.py).
MACHINES = {
    # AN386 and AN500 (hw/arm/mps2.c): ZBT SSRAM1 at 0, holding the image as flash would,
    # SSRAM2/3 at 0x20000000; SYSCLK 25 MHz.
    "mps2-an386": Machine(flash=_MPS2_SSRAM1, systick_hz=25_000_000),
    "mps2-an500": Machine(flash=_MPS2_SSRAM1, systick_hz=25_000_000),
    # AN547 (hw/arm/mps2-tz.c, SSE-300): the core fetches its vectors from the ITCM at 0
    # (init-svtor 0); the image lives in the 8 MB QSPI flash at 0x28000000; SYSCLK 32 MHz.
    "mps3-an547": Machine(flash=Region("QSPI", 0x28000000, 8 << 20, "rx"), systick_hz=32_000_000,
                          vectors=Region("ITCM", 0x00000000, 512 << 10, "rx")),
}


def machine_for(board: Board) -> Machine:
    name = board.qemu.get("machine")
    if name is None:
        raise FirmwareError(f"board {board.id} is not simulated; firmware runs on the QEMU boards "
                            f"(tinyengine boards lists them)")
    if name not in MACHINES:
        raise FirmwareError(f"board {board.id}: QEMU machine '{name}' is not one TinyEngine knows the memory map of "
                            f"({', '.join(sorted(MACHINES))})")
    return MACHINES[name]


def qemu_command(elf: Path, board: Board) -> list[str]:
    machine_for(board)
    return [QEMU, "-machine", board.qemu["machine"], "-cpu", board.qemu["cpu"],
            "-display", "none", "-serial", "null", "-monitor", "none", "-nodefaults",
            "-icount", "shift=0", "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]


@dataclass
class RunResult:
    outputs: list[np.ndarray]  # int8, flat, one per model output
    instructions: int  # for te_invoke()
    stack_bytes: int  # the deepest the stack went
    layer_instructions: list[int] = field(default_factory=list)  # per kernel call, profiled builds only
    log: str = ""


_LINE = re.compile(r"^(output|layer) (\d+):(.*)$|^(cycles|stack): (\d+)$")


def parse_output(text: str) -> RunResult:
    outputs, layers, values = {}, {}, {}
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if m is None:
            continue
        if m.group(1) == "output":
            outputs[int(m.group(2))] = np.array([int(v) for v in m.group(3).split()], dtype=np.int8)
        elif m.group(1) == "layer":
            layers[int(m.group(2))] = int(m.group(3))
        else:
            values[m.group(4)] = int(m.group(5))
    if "cycles" not in values or sorted(outputs) != list(range(len(outputs))):
        raise FirmwareError(f"the firmware's output is incomplete:\n{text[-2000:]}")
    if sorted(layers) != list(range(len(layers))):
        raise FirmwareError(f"the firmware printed per-layer counts with gaps:\n{text[-2000:]}")
    return RunResult(outputs=[outputs[i] for i in range(len(outputs))], instructions=values["cycles"],
                     stack_bytes=values.get("stack", 0), layer_instructions=[layers[i] for i in range(len(layers))],
                     log=text)


def run(elf: Path, board: Board, timeout: float = DEFAULT_TIMEOUT_S) -> RunResult:
    """Run the firmware to its exit; its semihosting output arrives on QEMU's stderr."""
    if shutil.which(QEMU) is None:
        raise MissingToolError(f"{QEMU} is not installed; on Debian: sudo apt-get install {QEMU_PACKAGE}")
    cmd = qemu_command(elf, board)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FirmwareError(f"{elf.name} did not finish within {timeout:g} s on {board.qemu['machine']}") from None
    text = result.stderr + result.stdout
    if result.returncode != 0:
        raise FirmwareError(f"{elf.name} on {board.qemu['machine']} exited with status {result.returncode}:\n"
                            f"{text[-2000:]}")
    return parse_output(text)
