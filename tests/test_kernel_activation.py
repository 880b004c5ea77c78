"""SOFTMAX, LOG_SOFTMAX, PRELU and the table-driven activations against TFLite's reference kernels."""

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from platformio_tinyengine.errors import UnsupportedModelError
from platformio_tinyengine.pipeline import compile_model
from tests.kernel_check import assert_bit_exact, scale, zero_point
from tests.harness import HostModel
from tests.model_builder import ModelBuilder
from tests.reference import reference_interpreter

SOFTMAX_OUT = (1 / 256, -128)
LOG_SOFTMAX_OUT = (16 / 256, 127)


def one_op_model(op, shape, in_quant, out_quant, consts=(), version=1, **options):
    b = ModelBuilder()
    x = b.input("x", shape, "int8", *in_quant)
    extra = [b.const(f"c{i}", data, *quant) for i, (data, quant) in enumerate(consts)]
    y = b.tensor("y", shape, "int8", *out_quant)
    b.op(op, [x, *extra], [y], version=version, **options)
    b.output(y)
    return b.finish()


def row_inputs(rng, shape, sets=3, equal_rows=True):
    """Random rows, plus rows that are all equal, rows with one large value and the int8 extremes."""
    result = []
    for _ in range(sets):
        x = rng.integers(-128, 128, size=shape, dtype=np.int8)
        rows = x.reshape(-1, shape[-1])
        if equal_rows:
            rows[0] = rng.integers(-128, 128, dtype=np.int8)
        if rows.shape[0] > 1:
            rows[1] = -128
            rows[1, rng.integers(shape[-1])] = 127
        if rows.shape[0] > 2 and equal_rows:
            rows[2] = 127
        result.append([x])
    return result


# name: (shape, beta, input scale)
SOFTMAX_CASES = {
    "row_of_1": ((1, 1), 1.0, 0.1),
    "row_of_2": ((3, 2), 1.0, 0.05),
    "row_of_7_beta_half": ((4, 7), 0.5, 0.08),
    "row_of_10_beta_2": ((2, 10), 2.0, 0.17),
    "rows_of_1000": ((3, 1000), 1.0, 0.02),
    "rows_of_1500_beta_half": ((2, 1500), 0.5, 0.1),
    "4d_small_scale": ((2, 3, 4, 10), 1.0, 0.004),
    "4d_large_scale": ((1, 2, 5, 12), 1.0, 0.9),
    "large_scale_clamps_diffs": ((4, 16), 1.0, 3.0),
    "huge_beta_scale_saturates": ((4, 9), 10.0, 6.0),
    "tiny_scale": ((3, 33), 1.0, 0.0005),
    "rank_1": ((17,), 1.0, 0.1),
}


@pytest.mark.parametrize("case", list(SOFTMAX_CASES), ids=list(SOFTMAX_CASES))
def test_softmax(case):
    shape, beta, in_scale = SOFTMAX_CASES[case]
    rng = np.random.default_rng(len(case) + 300)
    model = one_op_model("SOFTMAX", shape, (in_scale, zero_point(rng)), SOFTMAX_OUT, beta=beta)
    # TFLite aborts on a row whose sum of exps reaches 512 (see below): no equal long rows.
    assert_bit_exact(model, rng, inputs=row_inputs(rng, shape, equal_rows=shape[-1] < 512))


def test_softmax_of_rows_tflite_aborts_on(tmp_path):
    """512 or more equal values: each probability is below 1/256 and rounds to 0, which TFLite's
    reference refuses to compute (TFLITE_CHECK on its exponent); the kernel gives that 0."""
    shape = (3, 4500)
    model = one_op_model("SOFTMAX", shape, (0.05, 3), SOFTMAX_OUT, beta=1.0)
    x = np.full(shape, 7, dtype=np.int8)
    x[1] = -128
    x[2, :600] = 127
    (got,), = HostModel(model, tmp_path).run([[x]])
    assert np.all(got == -128)


LOG_SOFTMAX_CASES = {
    "row_of_1": ((1, 1), 0.1),
    "row_of_2": ((3, 2), 0.05),
    "row_of_7": ((4, 7), 0.08),
    "row_of_10": ((2, 10), 0.17),
    "rows_of_1000": ((3, 1000), 0.02),
    "rows_of_1200_small_scale": ((2, 1200), 0.003),
    "rows_of_4095": ((2, 4095), 0.01),
    "4d": ((2, 3, 4, 10), 0.05),
    "large_scale_clamps_diffs": ((4, 16), 1.5),
    "huge_scale": ((3, 9), 20.0),
    "tiny_scale": ((3, 33), 0.0005),
}


@pytest.mark.parametrize("case", list(LOG_SOFTMAX_CASES), ids=list(LOG_SOFTMAX_CASES))
def test_log_softmax(case):
    shape, in_scale = LOG_SOFTMAX_CASES[case]
    rng = np.random.default_rng(len(case) + 400)
    model = one_op_model("LOG_SOFTMAX", shape, (in_scale, zero_point(rng)), LOG_SOFTMAX_OUT)
    assert_bit_exact(model, rng, inputs=row_inputs(rng, shape))


def assert_both_refuse(model: bytes, message: str):
    """TFLite refuses the model, and so does the generator, with a message naming the problem."""
    with pytest.raises((RuntimeError, ValueError)):
        reference_interpreter(model)
    with pytest.raises(UnsupportedModelError, match=message):
        compile_model(model)


REFUSED = {
    "softmax_output_scale": ("SOFTMAX", (0.1, 0), (1 / 128, -128), {"beta": 1.0}, "requires 1/256"),
    "softmax_output_zero_point": ("SOFTMAX", (0.1, 0), (1 / 256, 0), {"beta": 1.0}, "requires -128"),
    "log_softmax_output_scale": ("LOG_SOFTMAX", (0.1, 0), (1 / 256, 127), {}, "requires 16/256"),
    "log_softmax_output_zero_point": ("LOG_SOFTMAX", (0.1, 0), (16 / 256, 0), {}, "requires 127"),
    "logistic_output_scale": ("LOGISTIC", (0.1, 0), (1 / 128, -128), {}, "requires 1/256"),
    "hard_swish_output_scale": ("HARD_SWISH", (0.5, 0), (0.001, 0), {}, "too small"),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_refused_quantisation(case):
    op, in_quant, out_quant, options, message = REFUSED[case]
    assert_both_refuse(one_op_model(op, (1, 10), in_quant, out_quant, **options), message)


def test_log_softmax_rows_whose_sum_overflows_are_refused():
    """TFLite sums a row's exps in Q12 and silently overflows at 4096 equal values."""
    model = one_op_model("LOG_SOFTMAX", (1, 4096), (0.01, 0), LOG_SOFTMAX_OUT)
    with pytest.raises(UnsupportedModelError, match="overflows at 4096"):
        compile_model(model)


def test_prelu_alpha_computed_at_run_time_is_refused():
    b = ModelBuilder()
    x = b.input("x", (1, 4, 4, 3), "int8", 0.1, 0)
    alpha = b.input("alpha", (1, 1, 3), "int8", 0.01, 0)
    y = b.tensor("y", (1, 4, 4, 3), "int8", 0.1, 0)
    b.op("PRELU", [x, alpha], [y])
    b.output(y)
    with pytest.raises(UnsupportedModelError, match="only a constant alpha"):
        compile_model(b.finish())


ALL_BYTES = np.arange(-128, 128, dtype=np.int8)


def _gelu_options(b: ModelBuilder, approximate: bool) -> None:
    """The model builder knows no GeluOptions table: set it on the last operator."""
    opts = schema.GeluOptionsT()
    opts.approximate = approximate
    b.operators[-1].builtinOptionsType = schema.BuiltinOptions.GeluOptions
    b.operators[-1].builtinOptions = opts


def parallel_model(op, quants, shape=(2, 4, 32), consts=(), **options):
    """One operator per (input quantisation, output quantisation), side by side in one model."""
    b = ModelBuilder()
    for i, (in_quant, out_quant) in enumerate(quants):
        x = b.input(f"x{i}", shape, "int8", *in_quant)
        extra = [b.const(f"c{i}_{j}", data, *quant) for j, (data, quant) in enumerate(consts)]
        y = b.tensor(f"y{i}", shape, "int8", *out_quant)
        if op == "GELU":
            b.op(op, [x, *extra], [y])
            _gelu_options(b, **options)
        else:
            b.op(op, [x, *extra], [y], **options)
        b.output(y)
    return b.finish()


def builtin_reference(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """LiteRT's builtin kernels, for operators its reference resolver lacks (ELU, which has one
    implementation only)."""
    it = Interpreter(model_content=model,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def random_quants(rng, n=4, out_scale=None, in_range=(0.003, 0.5), out_range=(0.003, 0.1)):
    return [((scale(rng, *in_range), zero_point(rng)),
             (out_scale, zero_point(rng)) if out_scale else (scale(rng, *out_range), zero_point(rng)))
            for _ in range(n)]


def assert_exhaustive(model: bytes, quants, rng, tmp_path, reference=None):
    """Every input byte, at every quantisation of the model."""
    inputs = [np.resize(rng.permutation(ALL_BYTES), (2, 4, 32)) for _ in quants]
    if reference is None:
        assert_bit_exact(model, rng, inputs=[inputs])
        return
    (got,) = HostModel(model, tmp_path).run([inputs])
    for g, e in zip(got, reference(model, inputs)):
        np.testing.assert_array_equal(g, e)


# name: (operator, output scale fixed by TFLite or None, options)
LUT_CASES = {
    "logistic": ("LOGISTIC", 1 / 256, {}),
    "tanh": ("TANH", None, {}),
    "tanh_usual_output": ("TANH", 1 / 128, {}),
    "elu": ("ELU", None, {}),
    "gelu": ("GELU", None, {"approximate": False}),
    "gelu_approximate": ("GELU", None, {"approximate": True}),
    "hard_swish": ("HARD_SWISH", None, {}),
    "leaky_relu": ("LEAKY_RELU", None, {"alpha": 0.2}),
    "leaky_relu_negative_alpha": ("LEAKY_RELU", None, {"alpha": -0.7}),
    "leaky_relu_alpha_above_one": ("LEAKY_RELU", None, {"alpha": 1.6}),
    "relu": ("RELU", None, {}),
    "relu6": ("RELU6", None, {}),
    "relu_n1_to_1": ("RELU_N1_TO_1", None, {}),
    "relu_0_to_1": ("RELU_0_TO_1", None, {}),
}


@pytest.mark.parametrize("case", list(LUT_CASES), ids=list(LUT_CASES))
def test_lut_activation_exhaustive(case, tmp_path):
    op, out_scale, options = LUT_CASES[case]
    rng = np.random.default_rng(len(case) + 500)
    quants = random_quants(rng, out_scale=out_scale)
    if op.startswith("RELU"):
        quants.append(((0.05, 3), (0.05, 3)))  # the same quantisation: a clamp only
        quants.append(((0.02, -10), (0.2, -128)))  # a multiplier below one
    model = parallel_model(op, quants, **options)
    assert_exhaustive(model, quants, rng, tmp_path, builtin_reference if op == "ELU" else None)


def test_hard_swish_both_relu_shift_signs(tmp_path):
    """Input scales below and above 3 * 128 / 32768 give the 'relu-ish' multiplier a right and a
    left shift."""
    rng = np.random.default_rng(17)
    quants = [((0.004, 5), (0.003, -20)), ((0.3, -7), (0.05, 30)), ((0.0117, 0), (0.01, 0))]
    assert_exhaustive(parallel_model("HARD_SWISH", quants), quants, rng, tmp_path)


# name: (input shape, alpha values shape, whether all alphas are equal)
PRELU_CASES = {
    "one_alpha_lut": ((1, 4, 5, 8), (1, 1, 8), True),
    "scalar_alpha_lut": ((1, 4, 5, 8), (1,), True),
    "per_channel": ((1, 4, 5, 8), (1, 1, 8), False),
    "per_channel_rank_1_alpha": ((2, 3, 3, 6), (6,), False),
    "per_row": ((1, 4, 5, 3), (4, 1, 1), False),
    "full_alpha": ((1, 3, 4, 5), (3, 4, 5), False),
}


@pytest.mark.parametrize("case", list(PRELU_CASES), ids=list(PRELU_CASES))
def test_prelu(case):
    shape, alpha_shape, uniform = PRELU_CASES[case]
    rng = np.random.default_rng(len(case) + 600)
    if uniform:
        alpha = np.full(alpha_shape, rng.integers(-128, 128), dtype=np.int8)
    else:
        alpha = rng.integers(-128, 128, size=alpha_shape, dtype=np.int8)
    alpha_quant = (scale(rng, 0.002, 0.02), zero_point(rng))
    model = one_op_model("PRELU", shape, (scale(rng), zero_point(rng)), (scale(rng), zero_point(rng)),
                         consts=[(alpha, alpha_quant)])
    kernel = compile_model(model).kernel_calls[0].kernel
    assert kernel == ("te_lut_s8" if uniform else "te_prelu_s8")
    inputs = [[np.resize(rng.permutation(ALL_BYTES), shape)] for _ in range(3)]
    assert_bit_exact(model, rng, inputs=inputs)
