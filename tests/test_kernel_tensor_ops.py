"""Pooling, element-wise, reduction and data-movement operators against TFLite's reference."""

import numpy as np
import pytest

from tests.kernel_check import assert_bit_exact, scale, zero_point
from tests.model_builder import ModelBuilder

SAME, VALID = 0, 1


def unary_model(op, in_shape, out_shape, consts=(), same_quant=False, version=1, rng=None, **options):
    """One operator with one activation input, constant extra inputs, and one output."""
    b = ModelBuilder()
    s, z = scale(rng), zero_point(rng)
    x = b.input("x", in_shape, "int8", s, z)
    extra = [b.const(f"c{i}", c) for i, c in enumerate(consts)]
    y = b.tensor("y", out_shape, "int8", *((s, z) if same_quant else (scale(rng), zero_point(rng))))
    b.op(op, [x, *extra], [y], version=version, **options)
    b.output(y)
    return b.finish()


POOL_CASES = {
    "avg_3x3_s2_same_odd": ("AVERAGE_POOL_2D", (1, 7, 9, 3), 3, 2, SAME, 0),
    "avg_2x2_valid": ("AVERAGE_POOL_2D", (1, 6, 6, 5), 2, 2, VALID, 0),
    "avg_global_5x5": ("AVERAGE_POOL_2D", (1, 5, 5, 16), 5, 5, VALID, 0),
    "avg_relu": ("AVERAGE_POOL_2D", (2, 4, 4, 2), 2, 1, SAME, 1),
    "max_2x2_s2_valid": ("MAX_POOL_2D", (1, 8, 8, 4), 2, 2, VALID, 0),
    "max_3x3_s2_same_odd": ("MAX_POOL_2D", (1, 9, 7, 3), 3, 2, SAME, 0),
    "max_relu6": ("MAX_POOL_2D", (1, 4, 5, 3), 2, 1, SAME, 3),
}


@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
def test_pool(case):
    op, shape, k, s, padding, act = POOL_CASES[case]
    n, h, w, c = shape
    out = (lambda v: (v + s - 1) // s) if padding == SAME else (lambda v: (v - k + s) // s)
    rng = np.random.default_rng(len(case))
    model = unary_model(op, shape, (n, out(h), out(w), c), same_quant=True, version=2, rng=rng,
                        filter_height=k, filter_width=k, stride_h=s, stride_w=s, padding=padding,
                        fused_activation_function=act)
    assert_bit_exact(model, rng)


def binary_model(op, shape1, shape2, out_shape, rng, activation=0, const_second=False):
    b = ModelBuilder()
    x1 = b.input("a", shape1, "int8", scale(rng), zero_point(rng))
    s2, z2 = scale(rng), zero_point(rng)
    if const_second:
        x2 = b.const("b", rng.integers(-128, 128, size=shape2, dtype=np.int8), s2, z2)
    else:
        x2 = b.input("b", shape2, "int8", s2, z2)
    y = b.tensor("y", out_shape, "int8", scale(rng, 0.05, 0.3), zero_point(rng))
    b.op(op, [x1, x2], [y], version=2, fused_activation_function=activation)
    b.output(y)
    return b.finish()


BINARY_CASES = {
    "add_same_shape": ("ADD", (1, 4, 5, 3), (1, 4, 5, 3), 0, False),
    "add_relu": ("ADD", (1, 3, 3, 8), (1, 3, 3, 8), 1, False),
    "add_broadcast_channels": ("ADD", (1, 4, 4, 6), (1, 1, 1, 6), 0, False),
    "add_broadcast_rows": ("ADD", (2, 3, 1, 5), (1, 1, 4, 5), 0, False),
    "add_constant_scalar": ("ADD", (1, 2, 3, 4), (1,), 3, True),
    "sub_broadcast": ("SUB", (1, 4, 4, 3), (1, 1, 4, 3), 0, False),
    "mul_same_shape": ("MUL", (1, 5, 5, 7), (1, 5, 5, 7), 0, False),
    "mul_squeeze_excite": ("MUL", (1, 6, 6, 16), (1, 1, 1, 16), 0, False),
    "mul_constant_scalar_relu6": ("MUL", (1, 1, 1, 9), (1,), 3, True),
    "mul_rank_2": ("MUL", (3, 7), (3, 1), 0, False),
}


@pytest.mark.parametrize("case", list(BINARY_CASES), ids=list(BINARY_CASES))
def test_binary(case):
    op, s1, s2, act, const = BINARY_CASES[case]
    out = tuple(np.broadcast_shapes(s1, s2))
    rng = np.random.default_rng(len(case) + 50)
    assert_bit_exact(binary_model(op, s1, s2, out, rng, act, const), rng)


def test_add_saturates():
    """Inputs of large scale into a small output scale: every clamp path is hit."""
    rng = np.random.default_rng(9)
    b = ModelBuilder()
    x1 = b.input("a", (1, 256), "int8", 1.0, 0)
    x2 = b.input("b", (1, 256), "int8", 0.5, 10)
    y = b.tensor("y", (1, 256), "int8", 0.01, -5)
    b.op("ADD", [x1, x2], [y], version=2)
    b.output(y)
    values = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    assert_bit_exact(b.finish(), rng, inputs=[[values, values[:, ::-1].copy()]])


MEAN_CASES = {
    "spatial_keep_dims": ((1, 7, 7, 12), [1, 2], True),
    "one_axis_w": ((1, 7, 7, 5), [2], True),
    "one_axis_h_no_keep": ((1, 6, 3, 4), [1], False),
    "last_axis_negative": ((1, 5, 3, 3), [-1], False),
    "three_axes": ((2, 3, 4, 5), [1, 2, 3], False),
    "rank_3": ((1, 9, 5), [1], True),
}


@pytest.mark.parametrize("case", list(MEAN_CASES), ids=list(MEAN_CASES))
@pytest.mark.parametrize("same_quant", [False, True], ids=["requantise", "same_quant"])
def test_mean(case, same_quant):
    shape, axes, keep = MEAN_CASES[case]
    nd = len(shape)
    resolved = {a % nd for a in axes}
    out = tuple(1 if d in resolved else n for d, n in enumerate(shape)) if keep else \
        tuple(n for d, n in enumerate(shape) if d not in resolved)
    rng = np.random.default_rng(len(case) + (7 if same_quant else 0))
    model = unary_model("MEAN", shape, out, consts=[np.array(axes, np.int32)], same_quant=same_quant,
                        version=2, rng=rng, keep_dims=keep)
    assert_bit_exact(model, rng)


PAD_CASES = {
    "spatial": ((1, 4, 5, 3), [[0, 0], [1, 1], [2, 1], [0, 0]]),
    "channels_and_batch": ((1, 2, 2, 3), [[1, 0], [0, 0], [0, 0], [2, 3]]),
    "rank_2": ((3, 4), [[1, 2], [0, 3]]),
}


@pytest.mark.parametrize("case", list(PAD_CASES), ids=list(PAD_CASES))
def test_pad(case):
    shape, pads = PAD_CASES[case]
    out = tuple(n + a + b for n, (a, b) in zip(shape, pads))
    rng = np.random.default_rng(len(case) + 300)
    assert_bit_exact(unary_model("PAD", shape, out, consts=[np.array(pads, np.int32)], same_quant=True,
                                 version=2, rng=rng), rng)


def test_padv2_with_constant_value():
    rng = np.random.default_rng(1)
    b = ModelBuilder()
    s, z = scale(rng), zero_point(rng)
    x = b.input("x", (1, 3, 3, 2), "int8", s, z)
    pads = b.const("p", np.array([[0, 0], [1, 2], [2, 1], [0, 0]], np.int32))
    value = b.const("v", np.array([-77], np.int8), s, z)
    y = b.tensor("y", (1, 6, 6, 2), "int8", s, z)
    b.op("PADV2", [x, pads, value], [y], version=2)
    b.output(y)
    assert_bit_exact(b.finish(), rng)


@pytest.mark.parametrize("shape,perm", [((1, 3, 4, 5), [0, 3, 1, 2]), ((2, 3, 4), [2, 0, 1]), ((5, 7), [1, 0])],
                         ids=["nhwc_to_nchw", "rank_3", "matrix"])
def test_transpose(shape, perm):
    rng = np.random.default_rng(len(shape))
    out = tuple(shape[p] for p in perm)
    assert_bit_exact(unary_model("TRANSPOSE", shape, out, consts=[np.array(perm, np.int32)], same_quant=True,
                                 version=2, rng=rng), rng)


@pytest.mark.parametrize("axis", [3, 1, -1], ids=["channels", "rows", "negative"])
def test_concatenation(axis):
    rng = np.random.default_rng(axis + 10)
    b = ModelBuilder()
    s, z = scale(rng), zero_point(rng)
    shapes = [(1, 3, 4, 2), (1, 3, 4, 5)] if axis in (3, -1) else [(1, 2, 4, 3), (1, 5, 4, 3)]
    a = b.input("a", shapes[0], "int8", s, z)
    c = b.const("c", rng.integers(-128, 128, size=shapes[1], dtype=np.int8), s, z)
    out = list(shapes[0])
    out[axis] = shapes[0][axis] + shapes[1][axis]
    y = b.tensor("y", tuple(out), "int8", s, z)
    b.op("CONCATENATION", [a, c], [y], version=2, axis=axis)
    b.output(y)
    assert_bit_exact(b.finish(), rng)


@pytest.mark.parametrize("in_hw,out_hw,align,half", [
    ((4, 5), (8, 10), False, False), ((3, 5), (7, 4), False, False),
    ((4, 4), (7, 9), True, False), ((5, 3), (8, 7), False, True), ((6, 6), (3, 2), False, True),
], ids=["2x", "odd_ratio", "align_corners", "half_pixel", "downscale_half_pixel"])
def test_resize_nearest(in_hw, out_hw, align, half):
    rng = np.random.default_rng(sum(in_hw) + sum(out_hw))
    model = unary_model("RESIZE_NEAREST_NEIGHBOR", (1, *in_hw, 3), (1, *out_hw, 3),
                        consts=[np.array(out_hw, np.int32)], same_quant=True, version=3 if half else 2,
                        rng=rng, align_corners=align, half_pixel_centers=half)
    assert_bit_exact(model, rng)


def test_requantize():
    rng = np.random.default_rng(5)
    assert_bit_exact(unary_model("QUANTIZE", (1, 4, 4, 5), (1, 4, 4, 5), version=2, rng=rng), rng)


def test_reshape_chain_is_free():
    from platformio_tinyengine.pipeline import compile_model

    rng = np.random.default_rng(2)
    b = ModelBuilder()
    s, z = scale(rng), zero_point(rng)
    x = b.input("x", (1, 2, 3, 4), "int8", s, z)
    r = b.tensor("r", (1, 24), "int8", s, z)
    b.op("RESHAPE", [x, b.const("shape", np.array([1, 24], np.int32))], [r], new_shape=[1, 24])
    y = b.tensor("y", (1, 24), "int8", scale(rng), zero_point(rng))
    b.op("QUANTIZE", [r], [y], version=2)
    b.output(y)
    model = b.finish()
    assert [c.kernel for c in compile_model(model).kernel_calls] == ["te_requantize_s8"]
    assert_bit_exact(model, rng)
