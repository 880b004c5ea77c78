"""Helpers for single-operator tests: random quantised operands and the comparison
of the generated C against LiteRT's reference kernels."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from tests.harness import HostModel
from tests.reference import run_reference


def assert_bit_exact(model: bytes, rng: np.random.Generator, input_sets: int = 3,
                     inputs: list[list[np.ndarray]] | None = None, patch="off") -> None:
    """Generate (with the given patch option), build and run `model`; every output byte must
    equal TFLite's."""
    with tempfile.TemporaryDirectory(prefix="te_kernel_") as tmp:
        host = HostModel(model, Path(tmp), patch=patch)
        if inputs is None:
            inputs = [[rng.integers(-128, 128, size=t.shape, dtype=np.int8) for t in host.compiled.graph.inputs]
                      for _ in range(input_sets)]
        outputs = host.run(inputs)
    for ins, got in zip(inputs, outputs):
        expected = run_reference(model, ins)
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e.reshape(g.shape))


def scale(rng: np.random.Generator, lo: float = 0.005, hi: float = 0.2) -> float:
    return float(np.float32(rng.uniform(lo, hi)))


def zero_point(rng: np.random.Generator) -> int:
    return int(rng.integers(-128, 128))


def weights(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(-127, 128, size=shape, dtype=np.int8)


def bias_for(rng: np.random.Generator, n: int, input_scale: float, weight_scales) -> tuple[np.ndarray, np.ndarray]:
    """An int32 bias with TFLite's bias scale input_scale * weight_scale."""
    scales = np.float32(input_scale) * np.asarray(weight_scales, dtype=np.float32)
    return rng.integers(-3000, 3000, size=n).astype(np.int32), scales
