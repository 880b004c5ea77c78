"""Hostile models: every mutation of a real model ends in generated C or one TinyEngineError,
never another exception."""

import signal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platformio_tinyengine.errors import TinyEngineError
from platformio_tinyengine.pipeline import compile_model, emit_sources
from tests.conftest import SHARED_MODELS, requires_shared_models
from tests.test_kernel_conv import conv_model
from tests.test_kernel_tensor_ops import binary_model

SECONDS_PER_MODEL = 20


class TookTooLong(Exception):
    pass


def _alarm(signum, frame):
    raise TookTooLong()


def compile_or_clean_error(data: bytes) -> None:
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS_PER_MODEL)
    try:
        emit_sources(compile_model(data))
    except TinyEngineError:
        pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    models = [conv_model(rng, 6, 6, 3, 4), conv_model(rng, 5, 5, 4, 4, depthwise=True),
              binary_model("ADD", (1, 4, 4, 3), (1, 1, 1, 3), (1, 4, 4, 3), rng)]
    if (SHARED_MODELS / "mlperf_tiny" / "mlperf_kws_ref_model.tflite").is_file():
        models.append((SHARED_MODELS / "mlperf_tiny" / "mlperf_kws_ref_model.tflite").read_bytes())
    return models


SEEDS = seeds()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(SEEDS) - 1), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 7)),
                                                            min_size=1, max_size=8))
def test_bit_flips(which, flips):
    data = bytearray(SEEDS[which])
    for where, bit in flips:
        data[int(where * (len(data) - 1))] ^= 1 << bit
    compile_or_clean_error(bytes(data))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(SEEDS) - 1), cut=st.floats(0, 1))
def test_truncations(which, cut):
    data = SEEDS[which]
    compile_or_clean_error(data[:int(cut * len(data))])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(SEEDS) - 1), where=st.floats(0, 1),
       value=st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 12345678]))
def test_overwritten_words(which, where, value):
    """32-bit words (offsets, lengths, indices, dimensions) replaced by hostile values."""
    data = bytearray(SEEDS[which])
    pos = int(where * (len(data) - 4)) & ~3
    data[pos:pos + 4] = value.to_bytes(4, "little")
    compile_or_clean_error(bytes(data))


@requires_shared_models
@pytest.mark.parametrize("name", ["vww.tflite", "detection.tflite"])
def test_real_model_mutations(name):
    data = (SHARED_MODELS / name).read_bytes()
    rng = np.random.default_rng(len(name))
    for _ in range(10):
        mutated = bytearray(data)
        for pos in rng.integers(0, len(data) // 8, size=4):  # the tables sit before the weights
            mutated[pos] ^= 1 << int(rng.integers(0, 8))
        compile_or_clean_error(bytes(mutated))
