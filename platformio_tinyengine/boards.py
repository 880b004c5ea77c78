"""Board descriptions: core, FPU, SIMD, RAM regions and flash, from boards/*.yaml, and
for boards we have no file for, from what PlatformIO's own board manifest says."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import TinyEngineError
from .resources import BOARDS_DIR

SIMD_KINDS = ("none", "dsp", "mve")
# Cores whose instruction set has the ARMv7E-M DSP extension / Helium.
_DSP_CORES = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m35p", "cortex-m55", "cortex-m85")
_MVE_CORES = ("cortex-m55", "cortex-m85")


@dataclass(frozen=True)
class RamRegion:
    name: str
    start: int
    bytes: int
    fastest: bool = False


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    platformio_ids: tuple[str, ...]
    core: str
    fpu: str
    float_abi: str
    simd: str
    flash_bytes: int
    ram_regions: tuple[RamRegion, ...]
    mcu: str = ""
    clock_hz: int = 0
    qemu: dict = field(default_factory=dict)

    @property
    def largest_ram(self) -> RamRegion:
        return max(self.ram_regions, key=lambda r: r.bytes)

    @property
    def fastest_ram(self) -> RamRegion:
        return next((r for r in self.ram_regions if r.fastest), self.largest_ram)

    @property
    def simulated(self) -> bool:
        return bool(self.qemu)

    def compiler_flags(self) -> list[str]:
        flags = [f"-mcpu={self.core}", "-mthumb"]
        if self.fpu not in ("none", "auto"):
            flags.append(f"-mfpu={self.fpu}")
        if self.fpu != "none":
            flags.append(f"-mfloat-abi={self.float_abi}")
        return flags


def _parse(path: Path) -> Board:
    try:
        data = yaml.safe_load(path.read_text())
        regions = tuple(RamRegion(name=r["name"], start=int(r["start"]), bytes=int(r["bytes"]),
                                  fastest=bool(r.get("fastest", False))) for r in data["ram_regions"])
        board = Board(id=path.stem, name=data["name"], platformio_ids=tuple(data["platformio_ids"]),
                      core=data["core"], fpu=data["fpu"], float_abi=data.get("float_abi", "hard"),
                      simd=data["simd"], flash_bytes=int(data["flash_bytes"]), ram_regions=regions,
                      mcu=data.get("mcu", ""), clock_hz=int(data.get("clock_hz", 0)), qemu=data.get("qemu") or {})
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise TinyEngineError(f"board file {path.name} is malformed: {exc}") from None
    if board.simd not in SIMD_KINDS:
        raise TinyEngineError(f"board file {path.name}: simd must be one of {', '.join(SIMD_KINDS)}")
    return board


def load_boards(directory: Path = BOARDS_DIR) -> list[Board]:
    return [_parse(p) for p in sorted(directory.glob("*.yaml"))]


def find_board(platformio_id: str, directory: Path = BOARDS_DIR) -> Board | None:
    for board in load_boards(directory):
        if platformio_id == board.id or platformio_id in board.platformio_ids:
            return board
    return None


def board_from_platformio(platformio_id: str, manifest: dict) -> Board:
    """A board we have no file for, described from PlatformIO's board manifest (flattened keys
    such as 'build.cpu', 'upload.maximum_ram_size')."""
    core = str(manifest.get("build.cpu") or "").lower()
    if not core:
        raise TinyEngineError(f"board '{platformio_id}' names no CPU (build.cpu) in its PlatformIO manifest")
    ram = int(manifest.get("upload.maximum_ram_size") or 0)
    flash = int(manifest.get("upload.maximum_size") or 0)
    if ram <= 0:
        raise TinyEngineError(f"board '{platformio_id}' does not state its RAM size (upload.maximum_ram_size)")
    simd = "mve" if core in _MVE_CORES else ("dsp" if core in _DSP_CORES else "none")
    return Board(id=platformio_id, name=str(manifest.get("name") or platformio_id), platformio_ids=(platformio_id,),
                 core=core, fpu="auto", float_abi="hard", simd=simd, flash_bytes=flash,
                 ram_regions=(RamRegion(name="RAM", start=0x20000000, bytes=ram, fastest=True),),
                 mcu=str(manifest.get("build.mcu") or ""))


def resolve_board(platformio_id: str, manifest: dict | None = None) -> Board:
    board = find_board(platformio_id)
    if board is not None:
        return board
    if manifest:
        return board_from_platformio(platformio_id, manifest)
    known = ", ".join(b.id for b in load_boards())
    raise TinyEngineError(f"unknown board '{platformio_id}'; known boards: {known}")
