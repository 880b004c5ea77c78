"""The PlatformIO hook against a small fake of PlatformIO's SCons environment."""

import json
from pathlib import Path

import numpy as np
import pytest

from platformio_tinyengine import build_hook
from platformio_tinyengine.boards import load_boards, resolve_board
from platformio_tinyengine.errors import TinyEngineError
from tests.test_kernel_conv import conv_model


class FakeBoardConfig(dict):
    pass


class Exited(Exception):
    pass


class FakeEnv:
    """The parts of PlatformIO's environment the hook uses, recording what it is asked to do."""

    def __init__(self, project: Path, board: str = "nucleo_h743zi", options=None, manifest=None):
        self.vars = {"PROJECT_DIR": str(project), "BUILD_DIR": str(project / ".pio" / "build" / "env"),
                     "BOARD": board}
        self.options = options or {}
        self.manifest = FakeBoardConfig(manifest or {})
        self.appended = []
        self.built = []
        self.exit_code = None

    def subst(self, text: str) -> str:
        for k, v in self.vars.items():
            text = text.replace(f"${k}", v)
        return text

    def GetProjectOption(self, name, default=None):
        return self.options.get(name, default)

    def BoardConfig(self):
        return self.manifest

    def Append(self, **kw):
        self.appended.append(kw)

    def BuildSources(self, variant_dir, src_dir):
        self.built.append((variant_dir, src_dir))

    def Exit(self, code):
        self.exit_code = code
        raise Exited(code)


def make_project(tmp_path: Path, models=("net.tflite",), size=(8, 8, 3, 4)) -> Path:
    project = tmp_path / "my project"  # a space in the path on purpose
    (project / "model").mkdir(parents=True)
    for name in models:
        h, w, cin, cout = size
        (project / "model" / name).write_bytes(conv_model(np.random.default_rng(0), h, w, cin, cout))
    return project


def test_generates_into_the_build_dir_and_adds_sources_once(tmp_path):
    project = make_project(tmp_path)
    env = FakeEnv(project)
    build_hook.run(env)
    gen = project / ".pio" / "build" / "env" / "tinyengine" / "gen"
    assert {p.name for p in gen.iterdir()} >= {"genModel.c", "genModel.h", "genMemory.h"}
    assert not (project / "src").exists()
    assert len(env.built) == 1 and env.built[0][1] == str(gen)
    assert {"CPPPATH": [str(gen)]} in env.appended


def test_unchanged_model_is_not_regenerated(tmp_path):
    project = make_project(tmp_path)
    build_hook.run(FakeEnv(project))
    gen_c = project / ".pio" / "build" / "env" / "tinyengine" / "gen" / "genModel.c"
    first = gen_c.stat().st_mtime_ns
    model = project / "model" / "net.tflite"
    board = resolve_board("nucleo_h743zi")
    assert not build_hook.generate_if_needed(model, build_hook.Options(), board, gen_c.parent)
    assert gen_c.stat().st_mtime_ns == first
    assert build_hook.generate_if_needed(model, build_hook.Options(arena_section=".dtcm"), board, gen_c.parent)


def test_changed_model_is_regenerated(tmp_path):
    project = make_project(tmp_path)
    build_hook.run(FakeEnv(project))
    stamp = project / ".pio" / "build" / "env" / "tinyengine" / "gen" / build_hook.STAMP
    before = json.loads(stamp.read_text())["model_sha256"]
    (project / "model" / "net.tflite").write_bytes(conv_model(np.random.default_rng(1), 8, 8, 3, 4))
    build_hook.run(FakeEnv(project))
    assert json.loads(stamp.read_text())["model_sha256"] != before


@pytest.mark.parametrize("models,phrase", [((), "no model"), (("a.tflite", "b.tflite"), "(a.tflite, b.tflite)")])
def test_model_discovery_errors(tmp_path, capsys, models, phrase):
    env = FakeEnv(make_project(tmp_path, models=models))
    with pytest.raises(Exited):
        build_hook.run(env)
    out = capsys.readouterr().out
    assert env.exit_code == 1 and out.startswith("[tinyengine] ERROR:") and phrase in out


def test_model_option_chooses_among_several(tmp_path):
    project = make_project(tmp_path, models=("a.tflite", "b.tflite"))
    env = FakeEnv(project, options={"custom_tinyengine_model": "model/b.tflite"})
    build_hook.run(env)
    assert env.exit_code is None


def test_corrupt_model_fails_the_build(tmp_path, capsys):
    project = make_project(tmp_path)
    (project / "model" / "net.tflite").write_bytes(b"garbage")
    env = FakeEnv(project)
    with pytest.raises(Exited):
        build_hook.run(env)
    assert "[tinyengine] ERROR: not a TFLite model" in capsys.readouterr().out


def test_model_too_big_for_the_board_says_by_how_much(tmp_path, capsys):
    project = make_project(tmp_path, size=(64, 64, 16, 48))  # ~250 KB of activations
    env = FakeEnv(project, board="nucleo_f411re")
    with pytest.raises(Exited):
        build_hook.run(env)
    out = capsys.readouterr().out
    assert "bytes too many" in out and "131,072" in out


def test_patch_option_fits_a_model_the_board_cannot_hold_layer_by_layer(tmp_path, capsys):
    """Two 3x3 convolutions through a 64x64x32 map need ~150 KB layer by layer; nucleo_f411re has
    128 KiB. Patches fit it."""
    from tests.test_patch import chain_model

    project = make_project(tmp_path)
    (project / "model" / "net.tflite").write_bytes(chain_model(64, (32, 4)))
    with pytest.raises(Exited):
        build_hook.run(FakeEnv(project, board="nucleo_f411re"))
    assert "custom_tinyengine_patch = auto" in capsys.readouterr().out
    env = FakeEnv(project, board="nucleo_f411re", options={"custom_tinyengine_patch": "auto"})
    build_hook.run(env)
    assert env.exit_code is None
    stamp = json.loads((project / ".pio" / "build" / "env" / "tinyengine" / "gen" / build_hook.STAMP).read_text())
    assert stamp["options"]["patch"] == "auto"


def test_arena_section_option_reaches_the_compiler(tmp_path):
    env = FakeEnv(make_project(tmp_path), options={"custom_tinyengine_arena_section": ".dtcm_data"})
    build_hook.run(env)
    defines = [kw["CPPDEFINES"] for kw in env.appended if "CPPDEFINES" in kw]
    assert defines and 'section(\\".dtcm_data\\")' in defines[0][0][1]  # escaped for SCons's shell line


@pytest.mark.parametrize("board", [b for b in load_boards()], ids=lambda b: b.id)
def test_every_board_file_resolves_by_each_of_its_ids(board):
    for pio_id in board.platformio_ids:
        assert resolve_board(pio_id).id == board.id
    assert board.largest_ram.bytes > 0 and board.flash_bytes > 0
    assert f"-mcpu={board.core}" in board.compiler_flags()


def test_unknown_board_falls_back_to_platformio_manifest():
    board = resolve_board("bluepill_f103c8", {"build.cpu": "cortex-m3", "upload.maximum_ram_size": 20480,
                                              "upload.maximum_size": 65536})
    assert board.simd == "none" and board.largest_ram.bytes == 20480
    with pytest.raises(TinyEngineError, match="unknown board"):
        resolve_board("no_such_board")
