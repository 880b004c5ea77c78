"""Generate C for a model, build it with the host gcc, run it: the code under test."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from platformio_tinyengine.pipeline import compile_model, emit_sources, write_sources
from platformio_tinyengine.resources import C_INCLUDE_DIR, C_SOURCE_DIR

HERE = Path(__file__).resolve().parent
WARNINGS = ["-std=c11", "-Wall", "-Wextra", "-Werror"]


def library_sources() -> list[Path]:
    return sorted(C_SOURCE_DIR.rglob("*.c"))


_library_objects: dict[tuple, list[Path]] = {}
_object_dir = Path(tempfile.mkdtemp(prefix="te_lib_"))


def _compile(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"host build failed:\n{' '.join(cmd)[:400]}\n{result.stderr[:4000]}")


def library_objects(flags: tuple[str, ...]) -> list[Path]:
    """The C library compiled once per flag set and test session."""
    if flags not in _library_objects:
        out = _object_dir / str(len(_library_objects))
        out.mkdir()
        objects = []
        for src in library_sources():
            obj = out / (src.stem + ".o")
            _compile(["gcc", *WARNINGS, "-O2", *flags, "-I", str(C_INCLUDE_DIR), "-c", str(src), "-o", str(obj)])
            objects.append(obj)
        _library_objects[flags] = objects
    return _library_objects[flags]


def build_host(gen_dir: Path, exe: Path, extra_flags: list[str] = ()) -> None:
    flags = tuple(extra_flags)
    _compile(["gcc", *WARNINGS, "-O2", *flags, "-I", str(C_INCLUDE_DIR), "-I", str(gen_dir),
              *map(str, sorted(gen_dir.glob("*.c"))), *map(str, library_objects(flags)),
              str(HERE / "harness" / "host_main.c"), "-lm", "-o", str(exe)])


class HostModel:
    """A model generated and built once, run on as many input sets as wanted."""

    def __init__(self, model: bytes, workdir: Path, extra_flags: list[str] = (), patch: str = "off",
                 compiled=None):
        """compiled: the model's CompiledModel as a test changed it (default: compile_model's)."""
        self.compiled = compile_model(model, patch=patch) if compiled is None else compiled
        self.gen_dir = workdir / "gen"
        write_sources(emit_sources(self.compiled), self.gen_dir)
        self.exe = workdir / "model_host"
        build_host(self.gen_dir, self.exe, list(extra_flags))
        self.workdir = workdir

    def run(self, input_sets: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        ins, outs = self.workdir / "inputs.bin", self.workdir / "outputs.bin"
        with open(ins, "wb") as f:
            for inputs in input_sets:
                for x in inputs:
                    f.write(np.ascontiguousarray(x, dtype=np.int8).tobytes())
        result = subprocess.run([str(self.exe), str(ins), str(outs)], capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise AssertionError(f"model run failed ({result.returncode}): {result.stderr[:2000]}")
        raw = np.fromfile(outs, dtype=np.int8)
        shapes = [t.shape for t in self.compiled.graph.outputs]
        per_set = sum(int(np.prod(s)) for s in shapes)
        assert raw.size == per_set * len(input_sets), "the model wrote the wrong number of output bytes"
        results, pos = [], 0
        for _ in input_sets:
            outs_one = []
            for s in shapes:
                n = int(np.prod(s))
                outs_one.append(raw[pos:pos + n].reshape(s))
                pos += n
            results.append(outs_one)
        return results


def run_generated(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    with tempfile.TemporaryDirectory(prefix="te_host_") as tmp:
        return HostModel(model, Path(tmp)).run([inputs])[0]


def random_inputs(compiled, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.integers(-128, 128, size=t.shape, dtype=np.int8) for t in compiled.graph.inputs]
