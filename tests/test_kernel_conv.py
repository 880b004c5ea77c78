"""CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED against TFLite's reference kernels."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.kernel_check import assert_bit_exact, bias_for, scale, weights, zero_point
from tests.model_builder import ModelBuilder

SAME, VALID = 0, 1


def out_size(n, k, s, d, padding):
    eff = (k - 1) * d + 1
    return (n + s - 1) // s if padding == SAME else (n - eff + s) // s


def conv_model(rng, h, w, cin, cout, k=(3, 3), stride=(1, 1), dilation=(1, 1), padding=SAME,
               activation=0, depthwise=False, per_channel=True, batch=1, with_bias=True, pad_op=None):
    b = ModelBuilder()
    s_in, z_in = scale(rng, 0.01, 0.1), zero_point(rng)
    x = b.input("x", (batch, h, w, cin), "int8", s_in, z_in)
    conv_in, ch, cw = x, h, w
    if pad_op is not None:
        (t, bo), (le, r) = pad_op
        ch, cw = h + t + bo, w + le + r
        conv_in = b.tensor("padded", (batch, ch, cw, cin), "int8", s_in, z_in)
        pads = b.const("pads", np.array([[0, 0], [t, bo], [le, r], [0, 0]], np.int32))
        b.op("PAD", [x, pads], [conv_in], version=2)
    n_scales = cout if per_channel else 1
    w_scales = np.array([scale(rng, 0.001, 0.02) for _ in range(n_scales)], np.float32)
    if depthwise:
        w_data = weights(rng, (1, k[0], k[1], cout))
        wt = b.const("w", w_data, w_scales, 0, axis=3)
    else:
        w_data = weights(rng, (cout, k[0], k[1], cin))
        wt = b.const("w", w_data, w_scales, 0, axis=0)
    inputs = [conv_in, wt]
    if with_bias:
        bias, bias_scales = bias_for(rng, cout, s_in, w_scales)
        inputs.append(b.const("bias", bias, bias_scales, 0))
    oh = out_size(ch, k[0], stride[0], dilation[0], padding)
    ow = out_size(cw, k[1], stride[1], dilation[1], padding)
    y = b.tensor("y", (batch, oh, ow, cout), "int8", scale(rng, 0.02, 0.5), zero_point(rng))
    options = dict(padding=padding, stride_h=stride[0], stride_w=stride[1], dilation_h_factor=dilation[0],
                   dilation_w_factor=dilation[1], fused_activation_function=activation)
    if depthwise:
        options["depth_multiplier"] = cout // cin
    b.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", inputs, [y], version=3 if depthwise else 3, **options)
    b.output(y)
    return b.finish()


CONV_CASES = {
    "3x3_same_odd_channels_relu6": dict(h=9, w=7, cin=3, cout=5, activation=3),
    "3x3_stride2_odd_size_asymmetric_pad": dict(h=7, w=9, cin=4, cout=6, stride=(2, 2)),
    "5x5_valid_stride2": dict(h=11, w=12, cin=2, cout=3, k=(5, 5), stride=(2, 2), padding=VALID),
    "1x1_on_1x1_spatial": dict(h=1, w=1, cin=17, cout=9, k=(1, 1)),
    "1x1_pointwise_relu": dict(h=5, w=6, cin=16, cout=8, k=(1, 1), activation=1),
    "dilation_2": dict(h=10, w=9, cin=3, cout=4, dilation=(2, 2)),
    "per_tensor_weights": dict(h=6, w=6, cin=3, cout=4, per_channel=False),
    "batch_2": dict(h=5, w=5, cin=2, cout=3, batch=2),
    "non_square_kernel_stride": dict(h=8, w=10, cin=3, cout=2, k=(1, 3), stride=(1, 2)),
    "fused_pad": dict(h=6, w=7, cin=3, cout=4, padding=VALID, pad_op=((1, 1), (1, 1))),
    "fused_asymmetric_pad_stride2": dict(h=7, w=8, cin=3, cout=4, padding=VALID, stride=(2, 2), pad_op=((0, 1), (1, 2))),
}

DEPTHWISE_CASES = {
    "3x3_same": dict(h=8, w=8, cin=5, cout=5),
    "3x3_stride2_odd": dict(h=9, w=7, cin=3, cout=3, stride=(2, 2)),
    "5x5_stride2_relu6": dict(h=11, w=10, cin=4, cout=4, k=(5, 5), stride=(2, 2), activation=3),
    "7x7_same": dict(h=9, w=9, cin=6, cout=6, k=(7, 7)),
    "depth_multiplier_2": dict(h=5, w=5, cin=3, cout=6),
    "1x1_spatial": dict(h=1, w=1, cin=7, cout=7),
    "dilation_2_valid": dict(h=9, w=9, cin=2, cout=2, dilation=(2, 2), padding=VALID),
    "fused_pad": dict(h=6, w=6, cin=4, cout=4, padding=VALID, pad_op=((1, 1), (1, 1))),
    "per_tensor_weights": dict(h=5, w=4, cin=3, cout=3, per_channel=False),
}


@pytest.mark.parametrize("case", list(CONV_CASES), ids=list(CONV_CASES))
def test_conv(case):
    rng = np.random.default_rng(len(case))
    assert_bit_exact(conv_model(rng, **CONV_CASES[case]), rng)


@pytest.mark.parametrize("case", list(DEPTHWISE_CASES), ids=list(DEPTHWISE_CASES))
def test_depthwise_conv(case):
    rng = np.random.default_rng(len(case) + 100)
    assert_bit_exact(conv_model(rng, depthwise=True, **DEPTHWISE_CASES[case]), rng)


def test_fused_pad_is_not_materialised():
    from platformio_tinyengine.pipeline import compile_model

    rng = np.random.default_rng(3)
    compiled = compile_model(conv_model(rng, 6, 6, 3, 4, padding=VALID, pad_op=((1, 1), (1, 1))))
    assert [c.kernel for c in compiled.kernel_calls] == ["te_conv_s8"]


@settings(max_examples=12, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), cin=st.integers(1, 6), cout=st.integers(1, 6),
       k=st.integers(1, 4), stride=st.integers(1, 2), padding=st.sampled_from([SAME, VALID]),
       activation=st.sampled_from([0, 1, 3]), seed=st.integers(0, 2**16))
def test_conv_random_geometry(h, w, cin, cout, k, stride, padding, activation, seed):
    if padding == VALID and (h < k or w < k):
        return
    rng = np.random.default_rng(seed)
    assert_bit_exact(conv_model(rng, h, w, cin, cout, k=(k, k), stride=(stride, stride), padding=padding,
                                activation=activation), rng, input_sets=2)


def add_fc(b: ModelBuilder, rng, name: str, batch, fin, fout, per_channel=False, with_bias=True, activation=0,
           weight_zp=0, input_zp=None, out_scale=None) -> tuple[int, tuple]:
    """An input -> FULLY_CONNECTED -> output branch; returns its input and shape. out_scale, a
    factor of input scale x weight scale, sets the requantisation's scale (its shift)."""
    s_in = scale(rng, 0.01, 0.1)
    x = b.input(f"{name}_x", (batch, fin), "int8", s_in, zero_point(rng) if input_zp is None else input_zp)
    w_scales = np.array([scale(rng, 0.001, 0.02) for _ in range(fout if per_channel else 1)], np.float32)
    wt = b.const(f"{name}_w", weights(rng, (fout, fin)), w_scales, weight_zp, axis=0)
    inputs = [x, wt]
    if with_bias:
        bias, bias_scales = bias_for(rng, fout, s_in, w_scales)
        inputs.append(b.const(f"{name}_bias", bias, bias_scales, 0))
    else:
        inputs.append(-1)
    s_out = scale(rng, 0.02, 0.5) if out_scale is None else float(np.float32(s_in * w_scales.max() * out_scale))
    y = b.tensor(f"{name}_y", (batch, fout), "int8", s_out, zero_point(rng))
    b.op("FULLY_CONNECTED", inputs, [y], version=4 if not per_channel else 12, fused_activation_function=activation)
    b.output(y)
    return x, (batch, fin)


def fc_model(rng, batch, fin, fout, **options):
    b = ModelBuilder()
    add_fc(b, rng, "fc", batch, fin, fout, **options)
    return b.finish()


FC_CASES = {
    "per_tensor": dict(batch=1, fin=37, fout=11),
    "per_tensor_relu": dict(batch=1, fin=64, fout=10, activation=1),
    "batches_3": dict(batch=3, fin=20, fout=7),
    "no_bias": dict(batch=1, fin=9, fout=5, with_bias=False),
    "single_unit": dict(batch=1, fin=1, fout=1),
    "wide": dict(batch=1, fin=640, fout=128, activation=1),
    "per_channel_rows_not_multiple_of_4": dict(batch=2, fin=45, fout=6, per_channel=True),
    "weight_zero_point": dict(batch=2, fin=23, fout=9, weight_zp=3),
}


# The shapes and parameters te_fully_connected_s8's filter layout and DSP loop treat apart:
# in_features 1 to 9 and not multiples of 4 (the last word's bytes), out_features 1 to 9 (groups
# of 4 rows and the 1 to 3 left), batches, per channel, a filter offset, input zero points at
# the ends of int8, the activation clamps, and requantisation shifts outside the single-SMLAL
# range (>= 0, and < -24).
FC_EDGE_CASES = {
    "in1_out9_zp127": dict(batch=1, fin=1, fout=9, input_zp=127),
    "in2_out8_zp-128_per_channel": dict(batch=1, fin=2, fout=8, input_zp=-128, per_channel=True),
    "in3_out7_relu6": dict(batch=1, fin=3, fout=7, activation=3),
    "in4_out6_batches_3": dict(batch=3, fin=4, fout=6, input_zp=-128),
    "in5_out5_filter_offset": dict(batch=2, fin=5, fout=5, weight_zp=-5, input_zp=127),
    "in6_out4_relu_n1_to_1_per_channel": dict(batch=1, fin=6, fout=4, activation=2, per_channel=True),
    "in7_out3_batches_2_per_channel": dict(batch=2, fin=7, fout=3, per_channel=True, input_zp=127),
    "in8_out2_relu": dict(batch=1, fin=8, fout=2, activation=1, input_zp=-128),
    "in9_out1_filter_offset_relu": dict(batch=1, fin=9, fout=1, weight_zp=7, activation=1),
    "in13_out12_per_channel_batches_2": dict(batch=2, fin=13, fout=12, per_channel=True, input_zp=-128),
    "in11_out8_shift_0": dict(batch=1, fin=11, fout=8, out_scale=1.5),
    "in300_out5_shift_below_-24": dict(batch=1, fin=300, fout=5, out_scale=2.0**26),
}


def fc_edge_model(rng) -> bytes:
    """One model with every FC_EDGE_CASES case as its own branch."""
    b = ModelBuilder()
    for name, case in FC_EDGE_CASES.items():
        add_fc(b, rng, name, **case)
    return b.finish()


def test_fully_connected_edge_cases():
    rng = np.random.default_rng(31)
    model = fc_edge_model(rng)
    shapes = [(c["batch"], c["fin"]) for c in FC_EDGE_CASES.values()]
    fills = [[rng.integers(-128, 128, size=s, dtype=np.int8) for s in shapes] for _ in range(2)]
    fills += [[np.full(s, v, np.int8) for s in shapes] for v in (-128, 127)]
    assert_bit_exact(model, rng, inputs=fills)


@pytest.mark.parametrize("case", list(FC_CASES), ids=list(FC_CASES))
def test_fully_connected(case):
    rng = np.random.default_rng(len(case) + 200)
    assert_bit_exact(fc_model(rng, **FC_CASES[case]), rng)


@settings(max_examples=10, deadline=None)
@given(fin=st.integers(1, 300), fout=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_fully_connected_random(fin, fout, seed):
    rng = np.random.default_rng(seed)
    assert_bit_exact(fc_model(rng, 1, fin, fout, activation=int(rng.integers(0, 2))), rng, input_sets=2)
