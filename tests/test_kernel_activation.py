"""SOFTMAX, LOG_SOFTMAX, PRELU and the table-driven activations against TFLite's reference kernels."""

import numpy as np
import pytest

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
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_refused_quantisation(case):
    op, in_quant, out_quant, options, message = REFUSED[case]
    assert_both_refuse(one_op_model(op, (1, 10), in_quant, out_quant, **options), message)
