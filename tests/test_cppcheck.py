"""cppcheck on the C library and on generated C: no findings in our code.

Findings are fixed, or suppressed inline (`// cppcheck-suppress id`) with the reason beside it.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from platformio_tinyengine.pipeline import compile_model, emit_sources, write_sources
from platformio_tinyengine.resources import C_INCLUDE_DIR, C_LIBRARY_DIR
from tests.conftest import SHARED_MODELS, requires_shared_models
from tests.test_fuzz import GENERATED_SEEDS

CPPCHECK = shutil.which("cppcheck")
pytestmark = pytest.mark.skipif(CPPCHECK is None, reason="cppcheck is not installed (Debian: apt-get install cppcheck)")
FLAGS = ["--enable=warning,style,performance,portability", "--error-exitcode=1", "--inline-suppr", "--std=c11",
         "--quiet", "-I", str(C_INCLUDE_DIR)]


def cppcheck(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([CPPCHECK, *FLAGS, *map(str, args)], capture_output=True, text=True, timeout=600)


def assert_clean(*args: str | Path) -> None:
    result = cppcheck(*args)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_cppcheck_reports_what_it_should(tmp_path):
    """These flags do find an out-of-bounds write, so a clean run means something."""
    bad = tmp_path / "bad.c"
    bad.write_text("void f(void);\nvoid f(void)\n{\n    int a[2];\n    a[2] = 0;\n    (void)a;\n}\n")
    result = cppcheck(bad)
    assert result.returncode == 1 and "arrayIndexOutOfBounds" in result.stderr, result.stderr


def test_library():
    assert_clean(C_LIBRARY_DIR)


@pytest.mark.parametrize("seed", ["branching", "float_wrapped", "concatenation", "conv_pad_stride2"])
def test_generated_c(tmp_path, seed):
    write_sources(emit_sources(compile_model(GENERATED_SEEDS[seed])), tmp_path)
    assert_clean("-I", tmp_path, tmp_path / "genModel.c")


@requires_shared_models
def test_generated_c_of_a_real_model(tmp_path):
    """The keyword-spotting model: convolutions, depthwise, pooling, FULLY_CONNECTED and SOFTMAX.
    (cppcheck takes minutes on the megabytes of weights of the larger models.)"""
    model = SHARED_MODELS / "mlperf_tiny" / "mlperf_kws_ref_model.tflite"
    write_sources(emit_sources(compile_model(model)), tmp_path)
    assert_clean("-I", tmp_path, tmp_path / "genModel.c")
