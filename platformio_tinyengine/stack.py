"""The stack the generated code needs, measured by compiling it with -fstack-usage.

te_invoke() calls each kernel in turn and the kernels call nothing deeper than
the C library's memcpy/memset (leaf functions with small frames), so the stack
is te_invoke's frame plus the largest frame of a kernel it calls.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import TinyEngineError
from .resources import C_INCLUDE_DIR, C_SOURCE_DIR

CORTEX_M7 = ["-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"]
# Allowance for the leaf C-library routines the kernels call (newlib's memcpy/memset).
LIBC_LEAF_BYTES = 16


def _frames(su_text: str) -> dict[str, tuple[int, str]]:
    frames = {}
    for line in su_text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            name = parts[0].rsplit(":", 1)[-1]
            frames[name] = (int(parts[1]), parts[2])
    return frames


def stack_usage(files: dict[str, str], kernels: set[str], compiler: str = "arm-none-eabi-gcc",
                flags: list[str] = CORTEX_M7) -> int:
    """Bytes of stack te_invoke() needs, for the given generated files and the kernels they call."""
    if shutil.which(compiler) is None:
        raise TinyEngineError(f"measuring the stack needs {compiler} on PATH "
                              "(Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)")
    frames: dict[str, tuple[int, str]] = {}
    with tempfile.TemporaryDirectory(prefix="te_stack_") as tmp:
        work = Path(tmp)
        for name, text in files.items():
            (work / name).write_text(text)
        sources = [work / "genModel.c", *sorted(C_SOURCE_DIR.rglob("*.c"))]
        for src in sources:
            result = subprocess.run([compiler, "-std=c11", "-O2", *flags, "-fstack-usage", "-I", str(C_INCLUDE_DIR),
                                     "-I", str(work), "-c", str(src), "-o", str(work / (src.stem + ".o"))],
                                    capture_output=True, text=True, cwd=work)
            if result.returncode != 0:
                raise TinyEngineError(f"compiling {src.name} for the stack measurement failed:\n{result.stderr[:2000]}")
            frames.update(_frames((work / (src.stem + ".su")).read_text()))
    unbounded = [f for f, (_, kind) in frames.items() if (f == "te_invoke" or f in kernels) and "dynamic" in kind]
    if unbounded:
        raise TinyEngineError(f"functions with a dynamic stack frame: {', '.join(sorted(unbounded))}")
    invoke = frames.get("te_invoke", (0, ""))[0]
    deepest = max((frames[k][0] for k in kernels if k in frames), default=0)
    return invoke + deepest + LIBC_LEAF_BYTES


def model_stack_usage(model) -> int:
    from .pipeline import emit_sources

    return stack_usage(emit_sources(model), {c.kernel for c in model.kernel_calls})
