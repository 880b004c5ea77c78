"""passes/channel_requantisation.py: convolution channels outside the fast kernels'
requantisation (constant channels, negative scales) rewritten into it; the outputs stay
TFLite's, byte for byte, at the ends of the input range too."""

from __future__ import annotations

import numpy as np
import pytest

from platformio_tinyengine.errors import UnsupportedModelError
from platformio_tinyengine.lowering.depthwise import FLAG_EXACT, RIGHT_MAX
from platformio_tinyengine.pipeline import compile_model
from platformio_tinyengine.quantization import quantize_multipliers
from tests.kernel_check import assert_bit_exact, weights
from tests.model_builder import ModelBuilder

S_IN, S_OUT, ZP_IN, ZP_OUT = 0.05, 0.1, -3, 7
# Effective scales per output channel: tiny ones whose outputs cannot move (right shifts 25 to
# 30: constant), ordinary ones, and 2^11 (a left shift: not constant, left alone).
CONSTANT, ORDINARY, LEFT = [3e-9, 7e-10, 2e-8, 5e-9], [0.004, 0.02, 0.0007, 0.01], [2.0 ** 11]


def conv_model(op_type: str, effective: list[float], activation: int = 0, biases=None, min_weight=None) -> bytes:
    """input 1x6x7x4 -> CONV_2D or DEPTHWISE_CONV_2D (3x3, SAME) with one channel per scale
    (min_weight: a first weight of every channel)."""
    rng = np.random.default_rng(len(effective) + activation)
    c = len(effective)
    b = ModelBuilder()
    x = b.input("x", (1, 6, 7, 4 if op_type == "CONV_2D" else c), "int8", S_IN, ZP_IN)
    w_scales = np.array(effective) * S_OUT / S_IN
    if op_type == "CONV_2D":
        data = weights(rng, (c, 3, 3, 4))
        if min_weight is not None:
            data[:, 0, 0, 0] = min_weight
        w = b.const("w", data, w_scales, 0, axis=0)
        options = {}
    else:
        data = weights(rng, (1, 3, 3, c))
        if min_weight is not None:
            data[0, 0, 0, :] = min_weight
        w = b.const("w", data, w_scales, 0, axis=3)
        options = {"depth_multiplier": 1}
    bias = rng.integers(-5000, 5000, size=c).astype(np.int32) if biases is None else np.asarray(biases, np.int32)
    bias_t = b.const("b", bias, np.float32(S_IN) * w_scales.astype(np.float32), 0)
    y = b.output(b.tensor("y", (1, 6, 7, c), "int8", S_OUT, ZP_OUT))
    b.op(op_type, [x, w, bias_t], [y], padding=0, stride_w=1, stride_h=1, fused_activation_function=activation,
         **options)
    return b.finish()


def extreme_inputs(model: bytes) -> list[list[np.ndarray]]:
    """Inputs at the ends of int8 (where the accumulators reach their interval's ends) and random ones."""
    rng = np.random.default_rng(5)
    shape = compile_model(model).graph.inputs[0].shape
    return [[np.full(shape, -128, np.int8)], [np.full(shape, 127, np.int8)],
            [rng.choice(np.array([-128, 127], np.int8), size=shape)], [rng.integers(-128, 128, shape, np.int8)]]


@pytest.mark.parametrize("activation", [0, 3], ids=["none", "relu6"])
def test_constant_depthwise_channels_take_the_fast_requantisation(activation):
    model = conv_model("DEPTHWISE_CONV_2D", CONSTANT + ORDINARY, activation)
    compiled = compile_model(model)
    call = compiled.kernel_calls[0]
    assert call.kernel == "te_depthwise_conv_s8_fast" and not call.params["flags"] & FLAG_EXACT
    assert any("4 output channel(s) of 1 convolution(s)" in note for note in compiled.graph.notes)
    assert_bit_exact(model, np.random.default_rng(0), inputs=extreme_inputs(model))


def test_constant_conv_channels_are_rewritten_into_the_fast_range():
    model = conv_model("CONV_2D", CONSTANT + ORDINARY)
    compiled = compile_model(model)
    assert gemm_takes_every_channel(compiled.kernel_calls[0])
    assert any("4 output channel(s)" in note for note in compiled.graph.notes)
    assert_bit_exact(model, np.random.default_rng(1), inputs=extreme_inputs(model))


def test_a_channel_that_moves_is_left_alone():
    """A left shift (effective scale 2^11) is outside the fast range but its output moves with
    the input: the layer keeps the exact path; the constant channels beside it are still
    rewritten; every byte as TFLite's."""
    model = conv_model("DEPTHWISE_CONV_2D", CONSTANT + LEFT + ORDINARY[:3])
    compiled = compile_model(model)
    assert compiled.kernel_calls[0].params["flags"] & FLAG_EXACT
    assert any("4 output channel(s)" in note for note in compiled.graph.notes)
    assert_bit_exact(model, np.random.default_rng(2), inputs=extreme_inputs(model))


def test_a_tiny_scale_at_a_rounding_edge_is_not_constant():
    """Right shift 23 with a bias that puts the accumulator's interval across a rounding step:
    the output moves by one, so the channel is not rewritten."""
    effective = 0.75 * 2.0 ** -24
    # acc * effective crosses 0.5 (a step of the rounding) inside the weights' reach.
    bias = int(round(0.5 / effective))
    model = conv_model("DEPTHWISE_CONV_2D", [effective] + ORDINARY[:3], biases=[bias, 0, 0, 0])
    compiled = compile_model(model)
    assert not any("output channel(s)" in note for note in compiled.graph.notes)
    assert compiled.kernel_calls[0].params["flags"] & FLAG_EXACT
    assert_bit_exact(model, np.random.default_rng(3), inputs=extreme_inputs(model))


def test_without_the_pass_these_channels_are_out_of_the_fast_range():
    """The scales above are what the pass is for: unrewritten, their right shifts exceed the
    fast kernels' range."""
    _, shift = quantize_multipliers(np.array(CONSTANT))
    assert (~shift > RIGHT_MAX).all()


def gemm_takes_every_channel(call) -> bool:
    """te_gemm_requant_applies for every channel (te_gemm_s8.h): the layer runs fused rows."""
    multipliers, rights = np.array(call.params["multiplier"].values), ~np.array(call.params["shift"].values)
    return bool((multipliers >= 0).all() and (rights >= 1).all() and (rights <= 23).all())


NEGATIVE = [-0.004, 0.02, -0.0007, 0.01, -0.03]


@pytest.mark.parametrize("op_type", ["CONV_2D", "DEPTHWISE_CONV_2D"])
def test_negative_scales_are_negated(op_type):
    """Negative weight scales give negative multipliers, which the fast kernels do not take:
    the channels are negated (weights, bias, scale) and the layer runs the fast path."""
    model = conv_model(op_type, NEGATIVE, activation=3)
    call = compile_model(model).kernel_calls[0]
    if op_type == "CONV_2D":
        assert gemm_takes_every_channel(call)
    else:
        assert call.kernel == "te_depthwise_conv_s8_fast" and not call.params["flags"] & FLAG_EXACT
    assert_bit_exact(model, np.random.default_rng(4), inputs=extreme_inputs(model))


def test_a_negative_scale_with_weight_minus_128_is_left_alone():
    """-(-128) is not an int8: the channel keeps its negative multiplier (the general output
    stage), still bit-exact."""
    model = conv_model("CONV_2D", NEGATIVE, min_weight=-128)
    assert not gemm_takes_every_channel(compile_model(model).kernel_calls[0])
    assert_bit_exact(model, np.random.default_rng(6), inputs=extreme_inputs(model))


def test_a_scale_too_large_is_reported_once_by_the_lowering():
    """A requantisation scale beyond 32-bit fixed point (found by the fuzzer): the pass leaves
    the layer alone and the lowering names it, the one clear error."""
    with pytest.raises(UnsupportedModelError, match="too large for 32-bit fixed point"):
        compile_model(conv_model("CONV_2D", [1e25, 0.01, 0.02, 0.03]))
