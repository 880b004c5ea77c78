"""Every shipped model: generate, build with gcc, run, and compare byte for byte with TFLite."""

import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import model_id, requires_shared_models, shared_models
from tests.harness import HostModel, random_inputs
from tests.reference import run_reference

INPUT_SETS = 3


def tflm_reference(model: bytes, inputs: list[np.ndarray], num_outputs: int) -> list[np.ndarray]:
    """TF-Lite Micro's interpreter: the reference where LiteRT refuses the model."""
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(model)
    for i, x in enumerate(inputs):
        it.set_input(x, i)
    it.invoke()
    return [it.get_output(i) for i in range(num_outputs)]


def reference_outputs(path: Path, model: bytes, inputs: list[np.ndarray], num_outputs: int):
    if path.name == "tflm_person_detect.tflite":
        return tflm_reference(model, inputs, num_outputs)
    return run_reference(model, inputs)


@requires_shared_models
@pytest.mark.parametrize("path", shared_models(), ids=model_id)
def test_model_is_bit_exact(path: Path, tmp_path: Path):
    model = path.read_bytes()
    host = HostModel(model, tmp_path)
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    input_sets = [random_inputs(host.compiled, rng) for _ in range(INPUT_SETS)]
    outputs = host.run(input_sets)
    for inputs, got in zip(input_sets, outputs):
        expected = reference_outputs(path, model, inputs, len(got))
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e.reshape(g.shape))
