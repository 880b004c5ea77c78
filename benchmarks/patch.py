"""Patch-based inference on every shipped model: peak SRAM and MACs with and without patches
(the plan `--patch auto` picks within 20% extra MACs), and the plan itself.

    .venv/bin/python benchmarks/patch.py [MODELS_DIR]

Prints a Markdown table (KiB = 1024 bytes) for BENCHMARKS.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from platformio_tinyengine.errors import TinyEngineError
from platformio_tinyengine.pipeline import compile_model


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "models"
    print("| model | layer by layer (KiB) | with patches (KiB) | ratio | MACs layer by layer | MACs with patches "
          "| extra MACs | plan | search (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for path in sorted(root.rglob("*.tflite")):
        start = time.perf_counter()
        try:
            model = compile_model(path, patch="auto")
        except TinyEngineError as exc:
            print(f"| {path.relative_to(root)} | not compiled: {str(exc).splitlines()[0]} | | | | | | | |")
            continue
        elapsed = time.perf_counter() - start
        before, after = model.unpatched_arena, model.plan.arena_bytes
        plan = "none beats layer by layer"
        if model.patch is not None:
            p = model.patch.plan
            plan = f"{p.rows}x{p.cols} up to layer {p.split}, {'bottom-up' if p.bottom_up else 'top-down'}"
        print(f"| {path.relative_to(root)} | {before / 1024:.1f} | {after / 1024:.1f} | {after / before:.2f}x | "
              f"{model.unpatched_macs:,} | {model.total_macs:,} | "
              f"{model.total_macs / model.unpatched_macs - 1:+.1%} | {plan} | {elapsed:.1f} |")


if __name__ == "__main__":
    main()
