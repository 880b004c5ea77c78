"""`tinyengine new`: a ready PlatformIO project for a board, from src_templates/project/.

Simulated boards use the QEMU dev-platform shipped in this package and build and run as
they are (`pio run -t exec`); real boards use PlatformIO's own platform for their chip."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2

from . import __version__
from .boards import Board, find_board, load_boards
from .build_hook import check_fits
from .errors import TinyEngineError
from .firmware import ARENA_SECTION, real_board_layout, render_firmware, uart_for
from .offline import PLATFORM_DIR
from .pipeline import compile_model
from .qemu import machine_for
from .report import model_report
from .resources import ROOT, TEMPLATES_DIR

TEMPLATES = {"platformio.ini": "platformio.ini.j2", "src/main.c": "main.c.j2", "README.md": "README.md.j2"}
GITIGNORE = ".pio/\n"
# A real board's support files in the project's src/ (the QEMU dev-platform brings its own).
BOARD_SUPPORT_SOURCES = ("startup.c", "te_firmware.c", "te_firmware.h")
# PlatformIO platforms of the real boards' chips, by MCU family.
PLATFORMS = {"stm32": "ststm32"}


@dataclass(frozen=True)
class NewProject:
    directory: Path
    board: Board
    platform: str
    model: Path | None  # the copy in model/


def platform_for(board: Board) -> str:
    if board.simulated:
        machine_for(board)  # a QEMU machine whose memory map TinyEngine knows
        return f"symlink://{PLATFORM_DIR}"
    for prefix, platform in PLATFORMS.items():
        if board.mcu.lower().startswith(prefix):
            return platform
    raise TinyEngineError(f"board {board.id}: no PlatformIO platform known for its MCU '{board.mcu}'")


def _board(board_id: str) -> Board:
    board = find_board(board_id)
    if board is None:
        known = ", ".join(b.id for b in load_boards())
        raise TinyEngineError(f"unknown board '{board_id}'; known boards: {known}")
    return board


def _check_model(model: Path, board: Board) -> int:
    """The same checks the build makes, so a model that cannot work is refused now; returns
    the model's arena in bytes."""
    if not model.is_file():
        raise TinyEngineError(f"{model}: no such file")
    report = model_report(compile_model(model))
    check_fits(report, board)
    return int(report["totals"]["peak_sram_bytes"])


def board_support(board: Board, arena_bytes: int | None) -> dict[str, str]:
    """A real board's start-up code, USART output, cycle counter and linker script (the
    arena placed for arena_bytes, or in the largest RAM when the model is not known yet):
    without a framework, PlatformIO's platform for the chip provides none of them."""
    files = render_firmware(board, real_board_layout(board, arena_bytes), model_name="", layers=0)
    return {"linker.ld": files["linker.ld"], **{f"src/{name}": files[name] for name in BOARD_SUPPORT_SOURCES}}


def render(board: Board, pio_board: str, platform: str, project_name: str, has_model: bool,
           arena_bytes: int | None = None) -> dict[str, str]:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "project")),
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
    context = dict(version=__version__, board_name=board.name, env_name=pio_board, pio_board=pio_board,
                   platform=platform, library_root=str(ROOT), simulated=board.simulated,
                   machine=board.qemu.get("machine", ""), project_name=project_name, has_model=has_model,
                   arena_section=ARENA_SECTION, arena_bytes=arena_bytes,
                   layout=None if board.simulated else real_board_layout(board, arena_bytes),
                   uart=None if board.simulated else uart_for(board))
    files = {path: env.get_template(name).render(**context) for path, name in TEMPLATES.items()}
    files[".gitignore"] = GITIGNORE
    if not board.simulated:
        files.update(board_support(board, arena_bytes))
    return files


IDES = ("platformio", "stm32cubeide")


def new_project(directory: Path, board_id: str, model: Path | None = None, ide: str = "platformio") -> NewProject:
    board = _board(board_id)
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise TinyEngineError(f"{directory} exists and is not an empty directory; choose a new one")
    if ide == "stm32cubeide":
        from .cubeide import new_cubeide_project

        new_cubeide_project(directory, board, model)
        return NewProject(directory=directory, board=board, platform="stm32cubeide", model=None)
    if ide != "platformio":
        raise TinyEngineError(f"unknown IDE '{ide}'; known: {', '.join(IDES)}")
    platform = platform_for(board)
    # The board id PlatformIO knows: the one asked for when it is one, else the board file's first.
    pio_board = board_id if board_id in board.platformio_ids else board.platformio_ids[0]
    if not (ROOT / "library.json").is_file():
        raise TinyEngineError(f"the TinyEngine library (library.json) is not beside this package in {ROOT}")
    arena_bytes = _check_model(Path(model), board) if model is not None else None
    files = render(board, pio_board, platform, directory.resolve().name, model is not None, arena_bytes)
    for path, text in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (directory / "model").mkdir(exist_ok=True)
    copy = None
    if model is not None:
        copy = directory / "model" / (Path(model).stem + ".tflite")  # the build looks for *.tflite
        shutil.copyfile(model, copy)
    return NewProject(directory=directory, board=board, platform=platform, model=copy)
