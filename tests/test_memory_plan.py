"""The memory plan: checked independently on every shipped model and on random graphs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platformio_tinyengine.memory.planner import plan_memory
from platformio_tinyengine.pipeline import compile_model
from tests.conftest import SHARED_MODELS, model_id, requires_shared_models, shared_models
from tests.kernel_check import assert_bit_exact, bias_for, scale, weights, zero_point
from tests.model_builder import ModelBuilder
from tests.plan_checker import check_plan
from tests.test_kernel_conv import conv_model


@requires_shared_models
@pytest.mark.parametrize("path", shared_models(), ids=model_id)
def test_plan_of_shipped_model_is_safe(path):
    model = compile_model(path)
    check_plan(model)
    assert model.plan.arena_bytes >= model.plan.lower_bound


@requires_shared_models
def test_optional_scratch_fitted_in_a_free_range():
    """mcunet-320kb-1mb_imagenet's layer 1 (88x88x16 depthwise) gets its band: replanning with it
    raises the arena by 53 KB (the placement heuristics move other buffers), while its step has a
    free range of that size in the plan as it stands. The arena stays that of no optional
    scratch."""
    path = SHARED_MODELS / "mcunet_zoo" / "mcunet-320kb-1mb_imagenet.tflite"
    model = compile_model(path)
    call = model.steps[1]
    assert call.kernel == "te_depthwise_conv_s8_fast" and call.params["band"] == 1
    assert not call.scratch_declined and model.plan.scratch[1].size == call.scratch_bytes > 0
    bound = plan_memory(model.steps, model.graph.inputs, model.graph.outputs, optional=())
    assert plan_memory(model.steps, model.graph.inputs, model.graph.outputs, optional={1}).arena_bytes > \
        bound.arena_bytes == model.plan.arena_bytes
    check_plan(model)


@requires_shared_models
def test_declined_band_gets_the_widened_weights_instead():
    """tflm_person_detect's layer 5 (3x3 depthwise, 32 channels): its band (12 KB) is declined at
    the arena it has, and the smaller scratch of widened weights it takes instead fits a free
    range there (KernelCall.scratch_alternative); the arena stays that of no optional scratch."""
    model = compile_model(SHARED_MODELS / "tflm_person_detect.tflite")
    call = model.steps[5]
    assert call.kernel == "te_depthwise_conv_s8_fast" and call.params["band"] == 0
    assert call.scratch_declined > call.scratch_bytes == call.scratch_alternative > 0
    assert "NULL" not in call.args and model.plan.scratch[5].size == call.scratch_bytes
    bound = plan_memory(model.steps, model.graph.inputs, model.graph.outputs, optional=())
    assert bound.arena_bytes == model.plan.arena_bytes
    check_plan(model)


def random_graph(draw_ops, rng) -> bytes:
    """A chain of convolutions, depthwise convolutions, pools and residual adds."""
    b = ModelBuilder()
    h = w = int(rng.integers(3, 12))
    c = int(rng.integers(1, 9))
    s, z = scale(rng, 0.02, 0.1), zero_point(rng)
    x = b.input("x", (1, h, w, c), "int8", s, z)
    skip = None
    for n, kind in enumerate(draw_ops):
        if kind in ("conv", "dw", "pw"):
            k = 1 if kind == "pw" else 3
            cout = c if kind == "dw" else int(rng.integers(1, 17))
            stride = int(rng.integers(1, 3)) if h > 2 else 1
            ws = np.array([scale(rng, 0.002, 0.02)] * cout, np.float32)
            if kind == "dw":
                wt = b.const(f"w{n}", weights(rng, (1, k, k, cout)), ws, 0, axis=3)
            else:
                wt = b.const(f"w{n}", weights(rng, (cout, k, k, c)), ws, 0, axis=0)
            bias, bs = bias_for(rng, cout, s, ws)
            oh, ow = (h + stride - 1) // stride, (w + stride - 1) // stride
            s, z = scale(rng, 0.02, 0.2), zero_point(rng)
            y = b.tensor(f"t{n}", (1, oh, ow, cout), "int8", s, z)
            opts = dict(padding=0, stride_h=stride, stride_w=stride, fused_activation_function=3)
            if kind == "dw":
                opts["depth_multiplier"] = 1
            b.op("DEPTHWISE_CONV_2D" if kind == "dw" else "CONV_2D", [x, wt, b.const(f"b{n}", bias, bs, 0)], [y],
                 version=3, **opts)
            x, h, w, c = y, oh, ow, cout
        elif kind == "pool" and h >= 2:
            oh, ow = h // 2, w // 2
            y = b.tensor(f"t{n}", (1, oh, ow, c), "int8", s, z)
            b.op("MAX_POOL_2D", [x], [y], version=2, filter_height=2, filter_width=2, stride_h=2, stride_w=2,
                 padding=1)
            x, h, w = y, oh, ow
        elif kind == "mark":
            skip = (x, (1, h, w, c))
        elif kind == "add" and skip is not None and skip[1] == (1, h, w, c):
            s, z = scale(rng, 0.05, 0.3), zero_point(rng)
            y = b.tensor(f"t{n}", (1, h, w, c), "int8", s, z)
            b.op("ADD", [x, skip[0]], [y], version=2)
            x, skip = y, None
    b.output(x)
    return b.finish()


@settings(max_examples=25, deadline=None)
@given(ops=st.lists(st.sampled_from(["conv", "dw", "pw", "pool", "mark", "add"]), min_size=1, max_size=10),
       seed=st.integers(0, 2**16))
def test_random_graph_plans_are_safe_and_exact(ops, seed):
    rng = np.random.default_rng(seed)
    model = random_graph(ops, rng)
    check_plan(compile_model(model))
    assert_bit_exact(model, rng, input_sets=1)


@pytest.mark.parametrize("cin,cout,k,stride", [(8, 24, 1, 1), (24, 8, 1, 1), (16, 16, 3, 1), (8, 8, 3, 2)],
                         ids=["expand_1x1", "project_1x1", "3x3", "3x3_stride2"])
def test_convolution_overlaps_its_input(cin, cout, k, stride):
    """Below the layer-wise bound input + output (+ the GEMM's scratch): the output sits over
    input rows already consumed."""
    rng = np.random.default_rng(cin * cout)
    model = conv_model(rng, 16, 16, cin, cout, k=(k, k), stride=(stride, stride))
    compiled = compile_model(model)
    x, y = compiled.graph.inputs[0], compiled.graph.outputs[0]
    scratch = compiled.kernel_calls[0].scratch_bytes
    assert compiled.plan.arena_bytes < x.nbytes + y.nbytes + scratch
    check_plan(compiled)
    assert_bit_exact(model, rng)
