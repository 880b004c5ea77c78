"""What the PlatformIO extra script (builder/tinyengine_build.py) does, kept here so it is
unit-tested against a fake of PlatformIO's environment.

Finds the model, regenerates its C sources into the build directory only when the
model, the options or the generator changed, checks that the arena fits the board's
RAM and the constants its flash, and hands the sources and include path to the build.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .boards import Board, resolve_board
from .errors import TinyEngineError
from .pipeline import compile_model, emit_sources, remove_leftovers, write_sources
from .report import model_report

PREFIX = "[tinyengine]"
MANIFEST_KEYS = ("name", "build.cpu", "build.mcu", "upload.maximum_ram_size", "upload.maximum_size")
STAMP = "tinyengine.stamp.json"


@dataclass(frozen=True)
class Options:
    model: str | None = None
    arena_section: str | None = None
    patch: str | None = None

    def as_dict(self) -> dict:
        return {"arena_section": self.arena_section, "patch": self.patch}


def read_options(env) -> Options:
    def opt(name: str) -> str | None:
        value = env.GetProjectOption(f"custom_tinyengine_{name}", None)
        return str(value).strip() if value not in (None, "") else None

    return Options(model=opt("model"), arena_section=opt("arena_section"), patch=opt("patch"))


def find_model(project_dir: Path, option: str | None) -> Path:
    if option:
        path = Path(option)
        path = path if path.is_absolute() else project_dir / path
        if not path.is_file():
            raise TinyEngineError(f"custom_tinyengine_model = {option}: no such file ({path})")
        return path
    model_dir = project_dir / "model"
    found = sorted(model_dir.glob("*.tflite")) if model_dir.is_dir() else []
    if not found:
        raise TinyEngineError(f"no model: put one .tflite file in {model_dir} "
                              "or set custom_tinyengine_model in platformio.ini")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise TinyEngineError(f"several models in {model_dir} ({names}): keep one, "
                              "or choose with custom_tinyengine_model in platformio.ini")
    return found[0]


def stamp_of(model: Path, options: Options, board: Board) -> dict:
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    return {"generator": __version__, "model_sha256": digest, "options": options.as_dict(), "board": board.id}


def check_fits(report: dict, board: Board) -> None:
    arena = report["totals"]["peak_sram_bytes"]
    ram = board.largest_ram
    problems = []
    if arena > ram.bytes:
        hint = "" if report["patch"] else " (custom_tinyengine_patch = auto may bring it lower)"
        problems.append(f"the model needs {arena:,} bytes of RAM for its arena, but the largest RAM region of "
                        f"{board.name} ({ram.name}) has {ram.bytes:,} bytes: {arena - ram.bytes:,} bytes too many"
                        + hint)
    flash = report["totals"]["flash_constant_bytes"]
    if board.flash_bytes and flash > board.flash_bytes:
        problems.append(f"the model's weights and parameters take {flash:,} bytes, but {board.name} has "
                        f"{board.flash_bytes:,} bytes of flash: {flash - board.flash_bytes:,} bytes too many")
    if problems:
        raise TinyEngineError("; ".join(problems))


def generate_if_needed(model: Path, options: Options, board: Board, out_dir: Path) -> bool:
    """Regenerate into out_dir unless its stamp matches; returns whether it generated.

    The sources and the stamp replace out_dir as one set (write_sources with own_dir), so an
    interrupted run leaves the previous sources with their stamp, or none: never a mix."""
    stamp = stamp_of(model, options, board)
    stamp_file = out_dir / STAMP
    remove_leftovers(out_dir)
    if stamp_file.is_file():
        try:
            if json.loads(stamp_file.read_text()) == stamp:
                return False
        except (OSError, ValueError):
            pass
    compiled = compile_model(model, patch=options.patch or "off")
    check_fits(model_report(compiled), board)
    files = emit_sources(compiled)
    files[STAMP] = json.dumps(stamp, indent=1, sort_keys=True)
    write_sources(files, out_dir, own_dir=True)
    return True


def generated_dir(build_dir: Path) -> Path:
    """Where a build's generated model sources go (the QEMU dev-platform reads the arena size there)."""
    return build_dir / "tinyengine" / "gen"


def arena_defines(options: Options) -> list[tuple[str, str]]:
    if not options.arena_section:
        return []
    section = options.arena_section.replace('"', "")
    return [("TE_ARENA_ATTRIBUTES", f'__attribute__((aligned(16), section("{section}")))')]


def scons_defines(defines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Defines for SCons's CPPDEFINES: SCons puts a value with spaces in double quotes on the
    shell's command line as it is, so the value's own double quotes must be escaped."""
    return [(name, value.replace('"', '\\"')) for name, value in defines]


def run(env, projenv=None) -> None:
    """Entry point of the extra script. Aborts the build with one message on any failure."""
    try:
        _run(env, projenv)
    except TinyEngineError as exc:
        print(f"{PREFIX} ERROR: {exc}")
        env.Exit(1)


def _run(env, projenv) -> None:
    options = read_options(env)
    project_dir = Path(env.subst("$PROJECT_DIR"))
    board_id = env.subst("$BOARD")
    config = env.BoardConfig()  # PlatformIO's board manifest; .get() takes dotted paths
    manifest = {key: config.get(key, None) for key in MANIFEST_KEYS}
    board = resolve_board(board_id, manifest)
    model = find_model(project_dir, options.model)
    out_dir = generated_dir(Path(env.subst("$BUILD_DIR")))
    try:
        generated = generate_if_needed(model, options, board, out_dir)
    except TinyEngineError as exc:  # say which file: the user may keep several
        raise TinyEngineError(f"{exc} (in {model.name})") from None
    if generated:
        print(f"{PREFIX} generated {model.name} for {board.name} into {out_dir}")
    targets = [env] + ([projenv] if projenv is not None and projenv is not env else [])
    for target in targets:
        target.Append(CPPPATH=[str(out_dir)])
        if options.arena_section:
            target.Append(CPPDEFINES=scons_defines(arena_defines(options)))
    # Built once, by this (the library's) environment.
    env.BuildSources(str(Path(env.subst("$BUILD_DIR")) / "tinyengine" / "obj"), str(out_dir))
