"""Patch-based inference: the schedule changes, never a result. Every shipped model that can
be patched, with the plan `--patch auto` picks and with fixed grids and split points, and random
graphs from hypothesis whose whole output is assembled from patches, byte for byte against
TFLite's reference kernels; every plan checked by the independent plan checker."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platformio_tinyengine.errors import TinyEngineError
from platformio_tinyengine.patch.rewrite import PatchPlan, patched_macs, stage_problem
from platformio_tinyengine.pipeline import compile_model
from tests.conftest import SHARED_MODELS, model_id, requires_shared_models, shared_models
from tests.harness import HostModel, random_inputs
from tests.kernel_check import assert_bit_exact
from tests.plan_checker import check_plan
from tests.test_models import reference_outputs
from tests.test_memory_plan import random_graph


def _valid_splits(model) -> list[int]:
    return [i for i in range(len(model.steps))
            if stage_problem(model.steps, i, model.graph.outputs) is None
            and min(model.steps[i].outputs[0].shape[1:3]) >= 2]


def _patchable_models() -> list[Path]:
    found = []
    for path in shared_models():
        try:
            model = compile_model(path)
        except TinyEngineError:
            continue
        if _valid_splits(model):
            found.append(path)
    return found


PATCHABLE = _patchable_models()


def _check(path: Path, patch: PatchPlan, rng: np.random.Generator, tmp_path: Path) -> None:
    data = path.read_bytes()
    host = HostModel(data, tmp_path, patch=patch)
    model = host.compiled
    assert model.patch is not None
    check_plan(model)
    assert model.total_macs == patched_macs(compile_model(data).steps, patch)
    input_sets = [random_inputs(model, rng) for _ in range(2)]
    for inputs, got in zip(input_sets, host.run(input_sets)):
        expected = reference_outputs(path, data, inputs, len(got))
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e.reshape(g.shape))


@requires_shared_models
@pytest.mark.parametrize("path", PATCHABLE, ids=model_id)
def test_shipped_model_auto_plan(path, tmp_path):
    model = compile_model(path, patch="auto")
    if model.patch is None:
        assert model.plan.arena_bytes == model.unpatched_arena
        pytest.skip("no patch plan beats layer-by-layer for this model within 20% extra MACs")
    assert model.plan.arena_bytes < model.unpatched_arena
    assert model.total_macs <= model.unpatched_macs * 1.2
    _check(path, model.patch.plan, np.random.default_rng(1), tmp_path)


# Fixed plans on a few models of different shapes (the auto plan above covers every model).
FIXED_PLAN_MODELS = [p for p in PATCHABLE if model_id(p) in (
    "vww.tflite", "detection.tflite", "mcunet_zoo/mbv2-w0.35-r144_imagenet.tflite",
    "mlperf_tiny/mlperf_vww_96_int8.tflite", "tflm_person_detect.tflite")]


@requires_shared_models
@pytest.mark.parametrize("path", FIXED_PLAN_MODELS, ids=model_id)
def test_shipped_model_fixed_plans(path, tmp_path):
    """The first and the deepest split point, square and non-square grids, both patch orders."""
    rng = np.random.default_rng(2)
    unpatched = compile_model(path)
    splits = _valid_splits(unpatched)
    for n, (split, rows, cols, bottom_up) in enumerate(((splits[0], 2, 2, False), (splits[-1], 3, 2, True))):
        h, w = unpatched.steps[split].outputs[0].shape[1:3]
        (tmp_path / str(n)).mkdir()
        _check(path, PatchPlan(split, min(rows, h), min(cols, w), bottom_up), rng, tmp_path / str(n))


@settings(max_examples=30, deadline=None)
@given(ops=st.lists(st.sampled_from(["conv", "dw", "pw", "pool", "mark", "add"]), min_size=1, max_size=8),
       seed=st.integers(0, 2**16), rows=st.integers(1, 4), cols=st.integers(1, 4), bottom_up=st.booleans())
def test_random_graph_patched_entirely(ops, seed, rows, cols, bottom_up):
    """The model's whole output is the split map: every byte of it comes from the patches."""
    rng = np.random.default_rng(seed)
    data = random_graph(ops, rng)
    model = compile_model(data)
    split = len(model.steps) - 1
    if stage_problem(model.steps, split, model.graph.outputs) is not None:
        return
    h, w = model.steps[split].outputs[0].shape[1:3]
    plan = PatchPlan(split, min(rows, h), min(cols, w), bottom_up)
    if plan.rows * plan.cols == 1:
        return
    try:
        patched = compile_model(data, patch=plan)
    except TinyEngineError as exc:
        # The one refusal a stage can meet: a 1x1 convolution reading a column window of the
        # model's input, which it cannot walk contiguously.
        assert "strided window" in str(exc)
        return
    check_plan(patched)
    assert_bit_exact(data, rng, input_sets=1, patch=plan)


def test_patch_stage_regions_pad_only_real_borders():
    """Inner patch borders read real neighbours: patches of a padded 3x3 convolution chain agree
    with the unpatched result (a model whose output is the split map, 4x4 patches of 8x8)."""
    from tests.test_kernel_conv import conv_model

    rng = np.random.default_rng(5)
    data = conv_model(rng, 8, 8, 3, 4)
    model = compile_model(data, patch="4x4@0")
    assert model.patch.stage_steps >= 16
    assert_bit_exact(data, rng, input_sets=2, patch="4x4@0")


@pytest.mark.parametrize("spec,message", [
    ("2x2", "expected 'auto', 'off' or ROWSxCOLS@LAYER"),
    ("9x9@0", "grid does not fit"),
    ("2x2@7", "does not exist"),
])
def test_bad_patch_options(spec, message):
    from tests.test_kernel_conv import conv_model

    data = conv_model(np.random.default_rng(0), 8, 8, 3, 4)
    with pytest.raises(TinyEngineError, match=message):
        compile_model(data, patch=spec)


def test_unpatchable_split_is_refused_with_its_reason():
    data = (SHARED_MODELS / "vww.tflite")
    if not data.is_file():
        pytest.skip(f"{data} is not available")
    last = len(compile_model(data).steps) - 1
    with pytest.raises(TinyEngineError, match="needs its whole input and cannot run patch by patch"):
        compile_model(data, patch=f"2x2@{last}")


def chain_model(size: int = 24, channels=(16, 16, 4)) -> bytes:
    """3x3 convolutions on a size x size map: layer by layer needs two big maps, patches do not."""
    from tests.kernel_check import bias_for, scale, weights, zero_point
    from tests.model_builder import ModelBuilder

    rng = np.random.default_rng(9)
    b = ModelBuilder()
    s, z = scale(rng, 0.02, 0.1), zero_point(rng)
    x = b.input("x", (1, size, size, 3), "int8", s, z)
    c = 3
    for n, cout in enumerate(channels):
        ws = np.full(cout, scale(rng, 0.002, 0.02), np.float32)
        w = b.const(f"w{n}", weights(rng, (cout, 3, 3, c)), ws, 0, axis=0)
        bias, bs = bias_for(rng, cout, s, ws)
        s, z = scale(rng, 0.02, 0.2), zero_point(rng)
        y = b.tensor(f"t{n}", (1, size, size, cout), "int8", s, z)
        b.op("CONV_2D", [x, w, b.const(f"b{n}", bias, bs, 0)], [y], padding=0, stride_h=1, stride_w=1)
        x, c = y, cout
    b.output(x)
    return b.finish()


def _chain_model(tmp_path: Path) -> Path:
    path = tmp_path / "chain.tflite"
    path.write_bytes(chain_model())
    return path


def test_analyze_reports_the_patch_plan(tmp_path):
    import json

    from tests.test_errors import run_cli

    path = _chain_model(tmp_path)
    result = run_cli("analyze", str(path), "--json", "--patch", "auto")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    patch = report["patch"]
    assert patch["peak_sram_bytes"] == report["totals"]["peak_sram_bytes"]
    assert patch["peak_sram_bytes"] < patch["peak_sram_bytes_without_patches"]
    assert 0 <= patch["mac_overhead"] <= 0.2
    assert patch["macs"] == sum(layer["macs"] for layer in report["layers"])
    patched = [layer for layer in report["layers"] if layer["patch"] is not None]
    assert len({layer["patch"] for layer in patched}) == patch["grid"][0] * patch["grid"][1]
    assert {layer["layer"] for layer in patched} - {None} == set(range(patch["split_layer"] + 1))
    table = run_cli("analyze", str(path), "--patch", "auto")
    assert "patch-based inference" in table.stdout and "patches" in table.stdout


def test_generate_with_a_bad_patch_option_fails_cleanly(tmp_path):
    from tests.test_errors import assert_clean_error, run_cli

    path = _chain_model(tmp_path)
    result = run_cli("generate", str(path), "--out", str(tmp_path / "gen"), "--patch", "2x2@9")
    assert_clean_error(result, "layer 9 does not exist")
