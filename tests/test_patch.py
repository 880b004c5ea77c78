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
    check_plan(compile_model(data, patch=plan))
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
