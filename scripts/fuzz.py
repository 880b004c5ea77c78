"""Long fuzz run of the model reader and generator: mutated models (bit flips, truncations,
hostile 32-bit words) must each end in generated C or one TinyEngineError.

    .venv/bin/python scripts/fuzz.py [RUNS] [SEED]
"""

import sys
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_fuzz import SEEDS, compile_or_clean_error  # noqa: E402

HOSTILE_WORDS = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000]


def mutate(rng: np.random.Generator, data: bytes) -> bytes:
    data = bytearray(data)
    kind = rng.integers(0, 3)
    if kind == 0:
        for _ in range(int(rng.integers(1, 8))):
            data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
    elif kind == 1:
        data = data[:int(rng.integers(0, len(data)))]
    else:
        pos = int(rng.integers(0, max(1, len(data) - 4))) & ~3
        data[pos:pos + 4] = int(rng.choice(HOSTILE_WORDS)).to_bytes(4, "little")
    return bytes(data)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    failures = 0
    for _ in range(runs):
        data = mutate(rng, SEEDS[int(rng.integers(0, len(SEEDS)))])
        try:
            compile_or_clean_error(data)
        except Exception:
            failures += 1
            traceback.print_exc(limit=-4)
    print(f"{runs} runs, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
