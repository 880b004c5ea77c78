"""Every shipped model as firmware on the three simulated boards: instructions QEMU executed
for te_invoke() (-icount: instructions, not cycles), MACs per instruction, peak SRAM (arena,
.data, .bss and the measured stack) and flash (text, rodata, data, vectors).

    .venv/bin/python benchmarks/speed.py [MODELS_DIR] [--jobs N]

Prints a Markdown table for BENCHMARKS.md, one row per model; a model that does not build or
run says why in its row.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from platformio_tinyengine.bench import bench
from platformio_tinyengine.errors import TinyEngineError

BOARDS = {"qemu_cortex_m7": "M7", "qemu_cortex_m4": "M4", "qemu_cortex_m55": "M55"}


def measure(path: Path, board_id: str) -> dict | str:
    try:
        return bench(path, board_id)
    except TinyEngineError as exc:
        return str(exc).splitlines()[0]


def cell(result: dict | str) -> str:
    if isinstance(result, str):
        return f"failed: {result}"
    simd = result["variants"]["simd"]
    return f"{simd['instructions'] / 1e6:.2f} M ({simd['macs_per_instruction']:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="?", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "models")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    paths = sorted(args.models.rglob("*.tflite"))
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {(p, b): pool.submit(measure, p, b) for p in paths for b in BOARDS}
        results = {key: f.result() for key, f in futures.items()}
    heads = [f"{short} instructions (MAC/instr)" for short in BOARDS.values()]
    print(f"| model | MACs | {' | '.join(heads)} | peak SRAM M7 (bytes) | flash M7 (bytes) |")
    print("|---|---:|" + "---:|" * (len(BOARDS) + 2))
    for path in paths:
        row = [cell(results[path, b]) for b in BOARDS]
        m7 = results[path, "qemu_cortex_m7"]
        if isinstance(m7, str):
            macs = sram = flash = ""
        else:
            simd = m7["variants"]["simd"]
            macs, sram, flash = f"{m7['macs']:,}", f"{simd['ram']['peak']:,}", f"{simd['flash']['total']:,}"
        print(f"| {path.relative_to(args.models)} | {macs} | {' | '.join(row)} | {sram} | {flash} |")


if __name__ == "__main__":
    main()
