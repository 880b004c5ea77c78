"""Bad input: one clear message, a non-zero exit, never a traceback."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED_MODELS, requires_shared_models
from tests.model_builder import ModelBuilder


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "platformio_tinyengine.cli", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def generate(tmp_path: Path, model: bytes | None = None, path: Path | None = None) -> subprocess.CompletedProcess:
    if path is None:
        path = tmp_path / "model.tflite"
        path.write_bytes(model)
    return run_cli("generate", str(path), "--out", str(tmp_path / "out"))


def assert_clean_error(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:"), result.stderr
    text = " ".join(result.stderr.split())
    for phrase in phrases:
        assert phrase in text, text


def test_missing_file(tmp_path):
    assert_clean_error(generate(tmp_path, path=tmp_path / "nope.tflite"), "not found", "nope.tflite")


def test_directory_instead_of_file(tmp_path):
    assert_clean_error(generate(tmp_path, path=tmp_path), "directory")


@pytest.mark.parametrize("content", [b"", b"\x00" * 3, np.random.default_rng(0).bytes(4096),
                                     b"\x89PNG\r\n\x1a\n" + bytes(200), b"PK\x03\x04" + bytes(100)],
                         ids=["empty", "tiny", "random", "png", "zip"])
def test_not_a_tflite_file(tmp_path, content):
    assert_clean_error(generate(tmp_path, content), "not a TFLite model")


@requires_shared_models
@pytest.mark.parametrize("fraction", [0.01, 0.3, 0.9])
def test_truncated_model(tmp_path, fraction):
    data = (SHARED_MODELS / "vww.tflite").read_bytes()
    assert_clean_error(generate(tmp_path, data[:int(len(data) * fraction)]), "corrupt")


def float_conv_model() -> bytes:
    b = ModelBuilder()
    x = b.input("x", (1, 4, 4, 3), "float32")
    w = b.const("w", np.ones((2, 3, 3, 3), np.float32))
    bias = b.const("b", np.zeros(2, np.float32))
    y = b.tensor("y", (1, 4, 4, 2), "float32")
    b.op("CONV_2D", [x, w, bias], [y], padding=0, stride_h=1, stride_w=1)
    b.output(y)
    return b.finish()


def test_float_model(tmp_path):
    assert_clean_error(generate(tmp_path, float_conv_model()), "float model", "quantise")


def test_int16_tensors(tmp_path):
    b = ModelBuilder()
    x = b.input("x", (1, 8), "int16", 0.001, 0)
    y = b.input("y", (1, 8), "int16", 0.001, 0)
    z = b.tensor("z", (1, 8), "int16", 0.002, 0)
    b.op("ADD", [x, y], [z])
    b.output(z)
    assert_clean_error(generate(tmp_path, b.finish()), "int16")


def test_every_unsupported_operator_is_named(tmp_path):
    b = ModelBuilder()
    x = b.input("x", (1, 8), "int8", 0.1, 0)
    g = b.tensor("g", (1, 8), "int8", 0.1, 0)
    b.op("SIN", [x], [g])
    s = b.tensor("s", (1, 8), "int8", 0.1, 0)
    b.op("SQUARE", [g], [s])
    y = b.tensor("y", (1, 8), "int8", 0.1, 0)
    b.op("ADD", [s, x], [y])
    b.output(y)
    result = generate(tmp_path, b.finish())
    assert_clean_error(result, "2 operator(s)", "SIN (operator #0", "SQUARE (operator #1")


def test_dynamic_shape(tmp_path):
    b = ModelBuilder()
    x = b.input("x", (1, 4, 4, 3), "int8", 0.1, 0, shape_signature=(1, -1, -1, 3))
    y = b.tensor("y", (1, 4, 4, 3), "int8", 0.1, 0)
    b.op("QUANTIZE", [x], [y])
    b.output(y)
    assert_clean_error(generate(tmp_path, b.finish()), "dynamic shape")


def test_convolution_wider_than_int16(tmp_path):
    """The convolutions' parameters hold sizes in int16: a 1x40000 signal is refused by name, not
    wrapped."""
    b = ModelBuilder()
    x = b.input("x", (1, 1, 40000, 1), "int8", 0.1, 0)
    w = b.const("w", np.ones((2, 1, 1, 1), np.int8), np.array([0.01, 0.01], np.float32), 0, axis=0)
    y = b.tensor("y", (1, 1, 40000, 2), "int8", 0.1, 0)
    b.op("CONV_2D", [x, w], [y], version=3, padding=0, stride_h=1, stride_w=1)
    b.output(y)
    assert_clean_error(generate(tmp_path, b.finish()), "in_w 40000", "out_w 40000", "up to 32767")


def test_negative_scale_on_activation(tmp_path):
    b = ModelBuilder()
    x = b.input("x", (1, 4), "int8", -0.1, 0)
    y = b.tensor("y", (1, 4), "int8", 0.1, 0)
    b.op("QUANTIZE", [x], [y])
    b.output(y)
    assert_clean_error(generate(tmp_path, b.finish()), "scale")


def test_success_reports_what_it_wrote(tmp_path):
    b = ModelBuilder()
    x = b.input("x", (1, 4), "int8", 0.1, 0)
    y = b.tensor("y", (1, 4), "int8", 0.2, 3)
    b.op("QUANTIZE", [x], [y])
    b.output(y)
    result = generate(tmp_path, b.finish())
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["genMemory.h", "genModel.c", "genModel.h"]


def test_names_from_the_model_are_printed_as_text(tmp_path):
    """Names quoted in messages are neither rich markup (a stray closing tag once crashed the
    error printer) nor terminal control sequences."""
    b = ModelBuilder()
    x = b.input("x[/bold]\x1b]0;pwned\x07\u202e", (1, 4), "int16", 0.1, 0)
    y = b.tensor("y", (1, 4), "int8", 0.2, 3)
    b.op("QUANTIZE", [x], [y])
    b.output(y)
    result = generate(tmp_path, b.finish())
    assert_clean_error(result, "x[/bold]?]0;pwned??", "int16")
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
