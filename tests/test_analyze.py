"""`tinyengine analyze` and --ram-limit, through the command line."""

import json

import numpy as np

from tests.conftest import requires_arm_gcc
from tests.test_errors import assert_clean_error, run_cli
from tests.test_kernel_conv import conv_model


def write_model(tmp_path):
    path = tmp_path / "conv.tflite"
    path.write_bytes(conv_model(np.random.default_rng(1), 12, 12, 8, 24, k=(1, 1)))
    return path


def test_analyze_json_is_machine_readable(tmp_path):
    result = run_cli("analyze", str(write_model(tmp_path)), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["report_version"] == 1
    (layer,) = report["layers"]
    assert layer["op"] == "CONV_2D" and layer["macs"] == 12 * 12 * 8 * 24
    assert layer["inputs"] == [[1, 12, 12, 8]] and layer["outputs"] == [[1, 12, 12, 24]]
    totals = report["totals"]
    assert totals["lower_bound_bytes"] <= totals["peak_sram_bytes"] < 12 * 12 * (8 + 24)
    assert totals["flash_constant_bytes"] >= 8 * 24


def test_analyze_table_and_plot(tmp_path):
    plot = tmp_path / "timeline.png"
    result = run_cli("analyze", str(write_model(tmp_path)), "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    assert "peak SRAM" in result.stdout and "CONV_2D" in result.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ram_limit_fails_with_the_numbers(tmp_path):
    model = write_model(tmp_path)
    for command in (["generate", str(model), "--out", str(tmp_path / "out")], ["analyze", str(model)]):
        result = run_cli(*command, "--ram-limit", "1000")
        assert_clean_error(result, "RAM limit is 1,000 bytes", "bytes over")


def test_ram_limit_that_fits(tmp_path):
    result = run_cli("generate", str(write_model(tmp_path)), "--out", str(tmp_path / "out"), "--ram-limit", "100000")
    assert result.returncode == 0, result.stderr


@requires_arm_gcc
def test_stack_is_measured(tmp_path):
    result = run_cli("analyze", str(write_model(tmp_path)), "--json", "--stack")
    assert result.returncode == 0, result.stderr
    stack = json.loads(result.stdout)["totals"]["stack_bytes"]
    # The GEMM's scratch is in the arena, not on the stack.
    assert 16 < stack < 1024
