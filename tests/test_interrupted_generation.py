"""A generation killed at any moment (SIGKILL: no cleanup runs) leaves the output directory
with the previous complete set of sources or none, never a mix or a partial file, and the
next generation succeeds and equals a clean one.

Two ways to kill: before each file-system operation the generation makes, in turn (an audit
hook in the child process counts them and kills itself at the k-th), which reaches every
state between two operations; and after timed delays during a large model's generation,
which also lands inside writes.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from platformio_tinyengine import build_hook
from platformio_tinyengine.boards import resolve_board
from platformio_tinyengine.pipeline import compile_model, emit_sources, write_sources
from tests.conftest import ROOT, SHARED_MODELS, requires_shared_models
from tests.test_fuzz import GENERATED_SEEDS

BOARD = "nucleo_h743zi"
USER_FILE = "main.c"

# The child: generate through the build hook ("hook") or write_sources into a directory
# ("cli"); with KILL_AT > 0, SIGKILL itself just before the KILL_AT-th file-system operation
# under ROOT; print the number of operations when it finishes.
CHILD = """
import os, signal, sys
from pathlib import Path
from platformio_tinyengine import build_hook
from platformio_tinyengine.boards import resolve_board
from platformio_tinyengine.pipeline import compile_model, emit_sources, write_sources

mode, model, out_dir, kill_at = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
root = str(out_dir.parent)
writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
count = 0

def on_event(event, args):
    global count
    if event == "open":
        counted = str(args[0]).startswith(root) and args[2] & writes
    elif event in ("os.remove", "os.rmdir"):
        counted = str(args[0]).startswith(root) or args[1] != -1  # -1: no dir_fd (shutil.rmtree uses one)
    else:
        counted = event in ("os.rename", "os.mkdir", "os.chmod", "shutil.rmtree") and str(args[0]).startswith(root)
    if counted:
        count += 1
        if count == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

print("ready", flush=True)
sys.addaudithook(on_event)
if mode == "hook":
    build_hook.generate_if_needed(model, build_hook.Options(), resolve_board(sys.argv[5]), out_dir)
else:
    write_sources(emit_sources(compile_model(model)), out_dir)
print(count, flush=True)
"""


def child(mode: str, model: Path, out_dir: Path, kill_at: int = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, mode, str(model), str(out_dir), str(kill_at), BOARD],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})


def files_in(directory: Path) -> dict[str, bytes] | None:
    if not directory.exists():
        return None
    return {p.name: p.read_bytes() for p in directory.iterdir()}


class Scene:
    """A project directory whose output directory holds the sources of model A, about to be
    regenerated for model B; `new` is what a clean generation of B writes."""

    def __init__(self, tmp_path: Path, mode: str, model_a: Path, model_b: Path, user_file: bool = False):
        self.mode, self.model_b = mode, model_b
        self.saved, self.work = tmp_path / "saved", tmp_path / "work"
        self.previous = self._generate(model_a, self.saved / "out", user_file)
        self.new = self._generate(model_b, tmp_path / "clean" / "out", user_file)

    def _generate(self, model: Path, out_dir: Path, user_file: bool) -> dict[str, bytes]:
        if user_file:
            out_dir.mkdir(parents=True)
            (out_dir / USER_FILE).write_text("int main(void) { return 0; }\n")
        if self.mode == "hook":
            assert build_hook.generate_if_needed(model, build_hook.Options(), resolve_board(BOARD), out_dir)
        else:
            write_sources(emit_sources(compile_model(model)), out_dir)
        return files_in(out_dir)

    @property
    def out(self) -> Path:
        return self.work / "out"

    def reset(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.copytree(self.saved, self.work)

    def assert_previous_or_new_or_none(self, when: str) -> None:
        state = files_in(self.out)
        if self.mode == "hook" or USER_FILE not in self.previous:
            assert state in (None, self.previous, self.new), f"{when}: a mix {sorted(state)}"
            return
        # Beside a user's file the generated files are replaced one by one: each complete.
        assert state[USER_FILE] == self.previous[USER_FILE]
        for name in self.new:
            assert state.get(name) in (self.previous.get(name), self.new[name]), f"{when}: {name} is partial"

    def assert_regenerates_cleanly(self) -> None:
        if self.mode == "hook":
            build_hook.generate_if_needed(self.model_b, build_hook.Options(), resolve_board(BOARD), self.out)
        else:
            write_sources(emit_sources(compile_model(self.model_b)), self.out)
        assert files_in(self.out) == self.new
        assert [p.name for p in self.work.iterdir()] == ["out"]  # no staging directory left behind


def model_file(tmp_path: Path, seed: str) -> Path:
    path = tmp_path / f"{seed}.tflite"
    path.write_bytes(GENERATED_SEEDS[seed])
    return path


@pytest.mark.parametrize("mode,user_file", [("hook", False), ("cli", False), ("cli", True)],
                         ids=["build_hook", "own_directory", "beside_user_files"])
def test_killed_before_each_file_operation(tmp_path, mode, user_file):
    scene = Scene(tmp_path, mode, model_file(tmp_path, "conv"), model_file(tmp_path, "branching"), user_file)
    scene.reset()
    run = child(mode, scene.model_b, scene.out)
    operations = int(run.communicate(timeout=300)[0].split()[-1])
    assert run.returncode == 0 and files_in(scene.out) == scene.new
    assert operations >= 4
    for k in range(1, operations + 1):
        scene.reset()
        run = child(mode, scene.model_b, scene.out, kill_at=k)
        run.communicate(timeout=300)
        assert run.returncode == -signal.SIGKILL
        scene.assert_previous_or_new_or_none(f"killed before operation {k} of {operations}")
        scene.assert_regenerates_cleanly()


@requires_shared_models
def test_killed_at_timed_moments_of_a_large_generation(tmp_path):
    """vww.tflite: about 2 MB of genModel.c, so some kills land inside a write."""
    scene = Scene(tmp_path, "hook", model_file(tmp_path, "conv"), SHARED_MODELS / "vww.tflite")

    def start() -> tuple[subprocess.Popen, float]:
        scene.reset()
        run = child("hook", scene.model_b, scene.out)
        assert run.stdout.readline().strip() == "ready"
        return run, time.monotonic()

    run, started = start()
    run.communicate(timeout=300)
    duration = time.monotonic() - started
    assert run.returncode == 0 and files_in(scene.out) == scene.new
    for fraction in (0.3, 0.6, 0.8, 0.9, 0.95, 1.0):
        run, started = start()
        time.sleep(max(0.0, started + fraction * duration - time.monotonic()))
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=300)
        scene.assert_previous_or_new_or_none(f"killed at {fraction:.0%} of the generation")
        scene.assert_regenerates_cleanly()
