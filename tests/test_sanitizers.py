"""Shipped models built with canaries around the arena and under AddressSanitizer and
UndefinedBehaviorSanitizer: no out-of-bounds access, no undefined behaviour, still bit-exact."""

import numpy as np
import pytest

from tests.conftest import SHARED_MODELS, requires_shared_models
from tests.harness import HostModel, random_inputs
from tests.reference import run_reference

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
            "-DTE_ARENA_GUARD_BYTES=64"]


@requires_shared_models
@pytest.mark.parametrize("name,patch", [
    ("vww.tflite", "off"), ("detection.tflite", "off"), ("ptq_mnist_lenet-300-100.tflite", "off"),
    ("mlperf_tiny/mlperf_ad01_int8.tflite", "off"), ("mcunet_zoo/mcunet-10fps_imagenet.tflite", "off"),
    ("vww.tflite", "auto"), ("detection.tflite", "auto")])
def test_sanitized_run_is_clean_and_exact(name, patch, tmp_path):
    model = (SHARED_MODELS / name).read_bytes()
    host = HostModel(model, tmp_path, extra_flags=SANITIZE, patch=patch)
    rng = np.random.default_rng(1)
    inputs = [random_inputs(host.compiled, rng) for _ in range(2)]
    for ins, got in zip(inputs, host.run(inputs)):
        for g, e in zip(got, run_reference(model, ins)):
            np.testing.assert_array_equal(g, e.reshape(g.shape))
