"""`tinyengine new DIR --ide stm32cubeide --board B --model M.tflite`: an STM32CubeIDE project
for a real STM32 board, from src_templates/stm32cubeide/.

CubeIDE builds with its own managed make and has no hook that could run the generator, so
the model's C is generated into the project now (Model/), and the operator library is
copied into it (TinyEngine/): the project is whole by itself, imports from anywhere and
does not change when this installation does. The start-up code, USART output, cycle
counter, linker script and main are the real-board firmware of firmware.py."""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

import jinja2

from . import __version__
from .boards import Board
from .build_hook import check_fits
from .codegen.emitter import render as render_model
from .errors import TinyEngineError
from .firmware import ARENA_SECTION, OPTIMIZATION, real_board_layout, render_firmware, uart_for
from .pipeline import CompiledModel, compile_model
from .report import model_report
from .resources import C_INCLUDE_DIR, C_SOURCE_DIR, TEMPLATES_DIR

# The .cproject follows the CDT managed-build files STM32CubeIDE writes for its own
# projects; the README says which releases and what it was checked against.
CUBEIDE_VERSIONS = "1.13 to 1.16"
# The GNU Tools for STM32 release CubeIDE 1.15 and 1.16 build with; an IDE without it
# uses its own default toolchain.
TOOLCHAIN_VERSION = "12.3.rel1"
ST = "com.st.stm32cube.ide.mcu.gnu.managedbuild"
SOURCE_DIRS = ("Core", "Model", "TinyEngine")
INCLUDE_DIRS = ("Core/Inc", "Model", "TinyEngine/include")
# The CMSIS device define of each chip (ST's stm32f4xx.h and its kin name them so).
DEVICE_DEFINES = {"stm32h743": "STM32H743xx", "stm32f746": "STM32F746xx", "stm32f446": "STM32F446xx",
                  "stm32f411": "STM32F411xE"}
# CubeIDE's board names (its "Board" option), for boards it knows.
TARGET_BOARDS = {"nucleo_h743zi": "NUCLEO-H743ZI", "disco_f746ng": "STM32F746G-DISCO",
                 "nucleo_f446re": "NUCLEO-F446RE", "nucleo_f411re": "NUCLEO-F411RE"}
FIRMWARE_FILES = {"main.c": "Core/Src/main.c", "startup.c": "Core/Src/startup.c",
                  "te_firmware.c": "Core/Src/te_firmware.c", "te_firmware.h": "Core/Inc/te_firmware.h"}


def target_mcu(board: Board) -> str:
    """CubeIDE's MCU name: the part number with the temperature range as 'x'
    (stm32h743zit6 -> STM32H743ZITx)."""
    return board.mcu.upper()[:-1] + "x"


def device_define(board: Board) -> str:
    define = DEVICE_DEFINES.get(board.mcu.lower()[:9])
    if define is None:
        raise TinyEngineError(f"board {board.id}: no CMSIS device define known for {board.mcu}")
    return define


def linker_script_name(board: Board) -> str:
    return f"{target_mcu(board).upper()}_FLASH.ld"  # as CubeIDE names its own


def generate_model(model: CompiledModel) -> dict[str, str]:
    """The model's C with the arena in the linker script's arena section (CubeIDE's
    define list would have to carry the attribute through make and a shell)."""
    return render_model(model.steps, model.plan, list(model.context.constants.values()), model.graph.inputs,
                        model.graph.outputs, model.graph.name, model.graph.notes,
                        arena_attributes=f'__attribute__((aligned(16), section("{ARENA_SECTION}")))')


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "stm32cubeide")),
                              keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                              autoescape=jinja2.select_autoescape(default=True, default_for_string=True,
                                                                  disabled_extensions=("md.j2",)))


def render(board: Board, project_name: str, model: CompiledModel, model_file: str) -> dict[str, str]:
    arena_bytes = model.plan.arena_bytes
    layout = real_board_layout(board, arena_bytes)
    firmware = render_firmware(board, layout, model.graph.name, len(model.kernel_calls))
    files = {target: firmware[name] for name, target in FIRMWARE_FILES.items()}
    files[linker_script_name(board)] = firmware["linker.ld"]
    files.update({f"Model/{name}": text for name, text in generate_model(model).items()})
    seed = zlib.crc32(project_name.encode())
    context = dict(
        version=__version__, board_name=board.name, project_name=project_name, st=ST,
        cubeide_versions=CUBEIDE_VERSIONS, toolchain_version=TOOLCHAIN_VERSION, target_mcu=target_mcu(board),
        target_board=TARGET_BOARDS.get(board.id, ""), fpu=board.fpu, float_abi=board.float_abi,
        optimization=OPTIMIZATION.lstrip("-").lower(), defines=[device_define(board)],
        include_paths=INCLUDE_DIRS, source_entries=SOURCE_DIRS, linker_script=linker_script_name(board),
        project_id=seed, model_file=model_file, arena_bytes=arena_bytes, layout=layout, uart=uart_for(board),
        arena_section=ARENA_SECTION,
        # Ids unique within the file: CDT wants one per element, any number will do.
        configurations=[dict(name=name, kind=name.lower(), n=str(seed % 100000 * 10 + i),
                             id=f"{ST}.config.exe.{name.lower()}.{seed % 100000 * 10 + i}")
                        for i, name in enumerate(("Debug", "Release"))],
    )
    env = _environment()
    files[".project"] = env.get_template("project.j2").render(**context)
    files[".cproject"] = env.get_template("cproject.j2").render(**context)
    files["README.md"] = env.get_template("README.md.j2").render(**context)
    return files


def copy_library(directory: Path) -> None:
    """The operator library's headers and sources, nothing else."""
    for source, target in ((C_INCLUDE_DIR, directory / "TinyEngine" / "include"),
                           (C_SOURCE_DIR, directory / "TinyEngine" / "src")):
        for path in sorted(source.rglob("*")):
            if path.suffix in (".c", ".h"):
                destination = target / path.relative_to(source)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)


def new_cubeide_project(directory: Path, board: Board, model: Path | None) -> None:
    if board.simulated:
        raise TinyEngineError(f"{board.id} is a simulated board; STM32CubeIDE projects are for the real STM32 boards")
    uart_for(board)
    if model is None:
        raise TinyEngineError("an STM32CubeIDE project needs --model: CubeIDE cannot run TinyEngine's generator at "
                              "build time, so the model's C is generated into the project now")
    if not Path(model).is_file():
        raise TinyEngineError(f"{model}: no such file")
    compiled = compile_model(Path(model))
    check_fits(model_report(compiled), board)
    files = render(board, directory.resolve().name, compiled, Path(model).name)
    for path, text in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    copy_library(directory)
