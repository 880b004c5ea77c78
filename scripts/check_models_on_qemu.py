"""Every shipped model as firmware on simulated boards, byte for byte against TFLite's
reference kernels (TF-Lite Micro for tflm_person_detect, as tests/test_models.py). The suite
runs vww.tflite this way on each board; this runs all of them (several minutes a board).

    .venv/bin/python scripts/check_models_on_qemu.py [--board qemu_cortex_m7 ...] [--portable] [--jobs N]

Prints one line per model and board and exits non-zero if any differs or fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from platformio_tinyengine import firmware, qemu  # noqa: E402
from platformio_tinyengine.boards import resolve_board  # noqa: E402
from platformio_tinyengine.errors import TinyEngineError  # noqa: E402
from platformio_tinyengine.pipeline import compile_model  # noqa: E402
from tests.conftest import shared_models  # noqa: E402
from tests.harness import random_inputs  # noqa: E402
from tests.test_models import reference_outputs  # noqa: E402


def check(path: Path, board_id: str, portable: bool) -> str:
    model = path.read_bytes()
    try:
        compiled = compile_model(model)
        inputs = random_inputs(compiled, np.random.default_rng(zlib.crc32(path.name.encode())))
        with tempfile.TemporaryDirectory(prefix="te_check_") as tmp:
            image = firmware.build(compiled, resolve_board(board_id), Path(tmp), inputs=inputs, portable=portable)
            result = qemu.run(image.elf, image.board)
    except TinyEngineError as exc:
        return f"FAILED {exc}".splitlines()[0]
    expected = reference_outputs(path, model, inputs, len(result.outputs))
    for i, (got, want) in enumerate(zip(result.outputs, expected)):
        want = np.asarray(want).reshape(-1)
        if got.shape != want.shape or not np.array_equal(got, want):
            return f"DIFFERS at output {i}: {int(np.sum(got != want)) if got.shape == want.shape else 'shape'}"
    return f"bit-exact ({len(result.outputs)} outputs, {result.instructions:,} instructions)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", action="append", dest="boards")
    parser.add_argument("--portable", action="store_true", help="build every kernel's portable C path")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    boards = args.boards or ["qemu_cortex_m7", "qemu_cortex_m4", "qemu_cortex_m55"]
    paths = shared_models()
    failed = 0
    with ProcessPoolExecutor(args.jobs) as pool:
        jobs = {(p, b): pool.submit(check, p, b, args.portable) for b in boards for p in paths}
        for (path, board), job in jobs.items():
            line = job.result()
            failed += not line.startswith("bit-exact")
            print(f"{board} {path.name}: {line}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
