"""A short coverage-guided run of scripts/fuzz_atheris.py on the generated seed models: a few
thousand executions, each ending in C that gcc accepts or in one TinyEngineError. Long runs
(with the real models as seeds) are made by hand: see the script."""

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(importlib.util.find_spec("atheris") is None,
                                reason="atheris is not installed (pip install -e '.[fuzz]')")
RUNS = 3000


def test_short_atheris_run(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "fuzz_atheris.py"), "--runs", str(RUNS),
                             "--no-real-models", "--seed", "1", "--timeout", "20", "--corpus", str(tmp_path / "corpus")],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"Done {RUNS} runs" in result.stderr
    assert not any((tmp_path / "findings").iterdir())
