"""Peak SRAM of every shipped model: our arena, its lower bound, TF-Lite Micro's arena
(measured with the tflite-micro package) and the best published figure.

    .venv/bin/python benchmarks/memory.py [MODELS_DIR]

Prints a Markdown table (KiB = 1024 bytes) for BENCHMARKS.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from platformio_tinyengine.errors import TinyEngineError
from platformio_tinyengine.pipeline import compile_model

# Best published peak SRAM in kB (min of TinyEngine and X-CUBE-AI 7.3 on STM32H743,
# from the models README / the seed's tables).
PUBLISHED_KB = {
    "mcunet-10fps_vww": 59, "mcunet-5fps_vww": 92, "mcunet-320kb-1mb_vww": 174,
    "mcunet-10fps_imagenet": 49, "mcunet-5fps_imagenet": 96, "mcunet-256kb-1mb_imagenet": 215,
    "mcunet-320kb-1mb_imagenet": 243, "mcunet-512kb-2mb_imagenet": 342, "mbv2-w0.35-r144_imagenet": 295,
    "proxyless-w0.3-r176_imagenet": 221, "vww": 92,
}

TFLM_PROBE = """
import sys
from tflite_micro.python.tflite_micro import runtime
it = runtime.Interpreter.from_file(sys.argv[1])
it.print_allocations()
"""


def tflm_arena(path: Path) -> int | None:
    result = subprocess.run([sys.executable, "-c", TFLM_PROBE, str(path)], capture_output=True, text=True)
    m = re.search(r"Arena allocation total (\d+) bytes", result.stdout + result.stderr)
    return int(m.group(1)) if m else None


def kib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 1024:.1f}"


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "models"
    print("| model | ours (KiB) | lower bound (KiB) | TF-Lite Micro (KiB) | best published (kB) | ours vs published |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in sorted(root.rglob("*.tflite")):
        name = path.stem
        try:
            plan = compile_model(path).plan
            ours, bound = plan.arena_bytes, plan.lower_bound
        except TinyEngineError as exc:
            print(f"| {path.relative_to(root)} | not compiled: {str(exc).splitlines()[0]} | | | | |")
            continue
        pub = PUBLISHED_KB.get(name)
        ratio = f"{ours / (pub * 1024):.2f}x" if pub else ""
        print(f"| {path.relative_to(root)} | {kib(ours)} | {kib(bound)} | {kib(tflm_arena(path))} | "
              f"{pub if pub else ''} | {ratio} |")


if __name__ == "__main__":
    main()
