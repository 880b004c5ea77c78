"""Hostile models: every mutation of a real model ends in generated C or one TinyEngineError,
never another exception; models that are valid flatbuffers but semantically hostile end in
one clear TinyEngineError; whatever the generator accepts, TFLite computes the same."""

import re
import signal
import subprocess
import time
import tracemalloc

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platformio_tinyengine.errors import TinyEngineError
from platformio_tinyengine.pipeline import compile_model, emit_sources, write_sources
from platformio_tinyengine.resources import C_INCLUDE_DIR
from tests.conftest import SHARED_MODELS, requires_shared_models
from tests.kernel_check import assert_bit_exact
from tests.model_builder import ModelBuilder
from tests.test_kernel_activation import SOFTMAX_OUT, one_op_model
from tests.test_kernel_conv import VALID, conv_model, fc_model
from tests.test_kernel_data_movement import one_op, reduce_model
from tests.test_kernel_tensor_ops import binary_model, unary_model

SECONDS_PER_MODEL = 20


class TookTooLong(Exception):
    pass


def _alarm(signum, frame):
    raise TookTooLong()


def compile_or_clean_error(data: bytes) -> None:
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS_PER_MODEL)
    try:
        emit_sources(compile_model(data))
    except TinyEngineError:
        pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    models = [conv_model(rng, 6, 6, 3, 4), conv_model(rng, 5, 5, 4, 4, depthwise=True),
              binary_model("ADD", (1, 4, 4, 3), (1, 1, 1, 3), (1, 4, 4, 3), rng)]
    if (SHARED_MODELS / "mlperf_tiny" / "mlperf_kws_ref_model.tflite").is_file():
        models.append((SHARED_MODELS / "mlperf_tiny" / "mlperf_kws_ref_model.tflite").read_bytes())
    return models


SEEDS = seeds()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(SEEDS) - 1), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 7)),
                                                            min_size=1, max_size=8))
def test_bit_flips(which, flips):
    data = bytearray(SEEDS[which])
    for where, bit in flips:
        data[int(where * (len(data) - 1))] ^= 1 << bit
    compile_or_clean_error(bytes(data))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(SEEDS) - 1), cut=st.floats(0, 1))
def test_truncations(which, cut):
    data = SEEDS[which]
    compile_or_clean_error(data[:int(cut * len(data))])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(SEEDS) - 1), where=st.floats(0, 1),
       value=st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 12345678]))
def test_overwritten_words(which, where, value):
    """32-bit words (offsets, lengths, indices, dimensions) replaced by hostile values."""
    data = bytearray(SEEDS[which])
    pos = int(where * (len(data) - 4)) & ~3
    data[pos:pos + 4] = value.to_bytes(4, "little")
    compile_or_clean_error(bytes(data))


@requires_shared_models
@pytest.mark.parametrize("name", ["vww.tflite", "detection.tflite"])
def test_real_model_mutations(name):
    data = (SHARED_MODELS / name).read_bytes()
    rng = np.random.default_rng(len(name))
    for _ in range(10):
        mutated = bytearray(data)
        for pos in rng.integers(0, len(data) // 8, size=4):  # the tables sit before the weights
            mutated[pos] ^= 1 << int(rng.integers(0, 8))
        compile_or_clean_error(bytes(mutated))


# Small models of every operator family: the seeds of scripts/fuzz_atheris.py and of the
# structured mutations below.

def float_wrapped_model(rng: np.random.Generator) -> bytes:
    """float input -> QUANTIZE -> CONV_2D -> DEQUANTIZE -> SOFTMAX (float): the float boundary pass."""
    b = ModelBuilder()
    x = b.input("x", (1, 5, 5, 2), "float32")
    q = b.tensor("q", (1, 5, 5, 2), "int8", 0.05, 3)
    b.op("QUANTIZE", [x], [q])
    w = b.const("w", rng.integers(-127, 128, (3, 3, 3, 2), dtype=np.int8), [0.01, 0.02, 0.03], 0)
    bias = b.const("bias", np.array([10, -20, 30], np.int32), [0.0005, 0.001, 0.0015], 0)
    c = b.tensor("c", (1, 5, 5, 3), "int8", 0.2, -5)
    b.op("CONV_2D", [q, w, bias], [c], version=3, padding=0, stride_h=1, stride_w=1)
    d = b.tensor("d", (1, 5, 5, 3), "float32")
    b.op("DEQUANTIZE", [c], [d])
    s = b.tensor("s", (1, 5, 5, 3), "float32")
    b.op("SOFTMAX", [d], [s], beta=1.0)
    b.output(s)
    return b.finish()


def branching_model(rng: np.random.Generator) -> bytes:
    """Two branches joined by ADD, a RESHAPE and a MEAN: more than one operator per model."""
    b = ModelBuilder()
    x = b.input("x", (1, 4, 4, 3), "int8", 0.05, 1)
    p = b.tensor("p", (1, 4, 4, 3), "int8", 0.05, 1)
    b.op("MAX_POOL_2D", [x], [p], version=2, padding=0, stride_h=1, stride_w=1, filter_height=2, filter_width=2)
    a = b.tensor("a", (1, 4, 4, 3), "int8", 0.1, 0)
    b.op("ADD", [x, p], [a], version=2)
    r = b.tensor("r", (1, 16, 3), "int8", 0.1, 0)
    b.op("RESHAPE", [a, b.const("shape", np.array([1, 16, 3], np.int32))], [r], new_shape=[1, 16, 3])
    m = b.tensor("m", (1, 3), "int8", 0.07, -2)
    b.op("MEAN", [r, b.const("axes", np.array([1], np.int32))], [m], version=2, keep_dims=False)
    b.output(m)
    b.output(a)
    return b.finish()


def concat_model(rng: np.random.Generator) -> bytes:
    b = ModelBuilder()
    a = b.input("a", (1, 3, 4, 2), "int8", 0.1, 2)
    c = b.input("c", (1, 3, 4, 5), "int8", 0.1, 2)
    y = b.tensor("y", (1, 3, 4, 7), "int8", 0.1, 2)
    b.op("CONCATENATION", [a, c], [y], version=2, axis=3)
    b.output(y)
    return b.finish()


def maximum_model(rng: np.random.Generator) -> bytes:
    b = ModelBuilder()
    a = b.input("a", (2, 1, 3), "int8", 0.1, 4)
    c = b.const("c", rng.integers(-128, 128, size=(1, 4, 1), dtype=np.int8), 0.1, 4)
    y = b.tensor("y", (2, 4, 3), "int8", 0.1, 4)
    b.op("MAXIMUM", [a, c], [y], version=2)
    b.output(y)
    return b.finish()


def generated_seeds() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    i32 = lambda v: np.array(v, np.int32)  # noqa: E731
    return {
        "conv": conv_model(rng, 6, 6, 3, 4, activation=3),
        "conv_pad_stride2": conv_model(rng, 7, 8, 3, 4, padding=VALID, stride=(2, 2), pad_op=((0, 1), (1, 2))),
        "depthwise_x2": conv_model(rng, 5, 5, 3, 6, depthwise=True),
        "fully_connected": fc_model(rng, 1, 12, 5, per_channel=True),
        "avg_pool": unary_model("AVERAGE_POOL_2D", (1, 5, 5, 2), (1, 3, 3, 2), same_quant=True, version=2,
                                rng=rng, filter_height=3, filter_width=3, stride_h=2, stride_w=2, padding=0),
        "add_broadcast": binary_model("ADD", (1, 4, 4, 3), (1, 1, 1, 3), (1, 4, 4, 3), rng),
        "mul_const": binary_model("MUL", (1, 3, 3), (1, 1, 3), (1, 3, 3), rng, const_second=True),
        "sub": binary_model("SUB", (2, 3), (2, 3), (2, 3), rng, activation=1),
        "mean": unary_model("MEAN", (1, 4, 3, 2), (1, 2), consts=[np.array([1, 2], np.int32)], version=2,
                            rng=rng, keep_dims=False),
        "pad": unary_model("PAD", (1, 2, 3, 2), (1, 4, 4, 2),
                           consts=[np.array([[0, 0], [1, 1], [0, 1], [0, 0]], np.int32)],
                           same_quant=True, version=2, rng=rng),
        "transpose": unary_model("TRANSPOSE", (2, 3, 4), (4, 2, 3), consts=[np.array([2, 0, 1], np.int32)],
                                 same_quant=True, version=2, rng=rng),
        "resize": unary_model("RESIZE_NEAREST_NEIGHBOR", (1, 2, 3, 2), (1, 4, 5, 2),
                              consts=[np.array([4, 5], np.int32)], same_quant=True, version=3, rng=rng,
                              half_pixel_centers=True),
        "concatenation": concat_model(rng),
        "requantize": unary_model("QUANTIZE", (1, 6), (1, 6), version=2, rng=rng),
        "slice": one_op("SLICE", (3, 4, 5), [(2, 2, 3)], [i32([1, 1, 1]), i32([2, 2, 3])], rng, version=2),
        "strided_slice": one_op("STRIDED_SLICE", (4, 7), [(2, 3)], [i32([0, 1]), i32([4, 7]), i32([2, 2])], rng,
                                table="StridedSliceOptions", version=4),
        "split": one_op("SPLIT", (2, 6), [(2, 3)] * 2, [i32(1)], rng, axis_first=True, table="SplitOptions",
                        version=3, num_splits=2),
        "tile": one_op("TILE", (2, 3), [(4, 3)], [i32([2, 1])], rng, version=2),
        "gather": one_op("GATHER", (5, 3), [(4, 3)], [i32([4, 0, 2, 2])], rng, table="GatherOptions", version=6,
                         axis=0, batch_dims=0),
        "depth_to_space": one_op("DEPTH_TO_SPACE", (1, 2, 3, 8), [(1, 4, 6, 2)], [], rng,
                                 table="DepthToSpaceOptions", block_size=2),
        "space_to_batch": one_op("SPACE_TO_BATCH_ND", (1, 5, 5, 3), [(4, 3, 3, 3)],
                                 [i32([2, 2]), i32([[1, 0], [0, 1]])], rng, version=3),
        "maximum": maximum_model(rng),
        "reduce_max": reduce_model("REDUCE_MAX", (1, 4, 5, 3), [1, 2], True, rng),
        "sum": reduce_model("SUM", (2, 3, 4), [1], False, rng, same_quant=False),
        "softmax": one_op_model("SOFTMAX", (2, 10), (0.05, 3), SOFTMAX_OUT, beta=1.0),
        "logistic": one_op_model("LOGISTIC", (2, 8), (0.05, 3), (1 / 256, -128)),
        "prelu": one_op_model("PRELU", (1, 3, 3, 4), (0.05, 1), (0.07, -2),
                              consts=[(rng.integers(-128, 128, size=(1, 1, 4), dtype=np.int8), (0.01, 0))]),
        "float_wrapped": float_wrapped_model(rng),
        "branching": branching_model(rng),
    }


GENERATED_SEEDS = generated_seeds()


def edited(model: bytes, edit) -> bytes:
    """`model` with `edit(ModelT)` applied: still a valid flatbuffer, whatever it now means."""
    m = schema.ModelT.InitFromPackedBuf(model, 0)
    edit(m)
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _tensor(m, name: str):
    return next(t for t in m.subgraphs[0].tensors if t.name.decode() == name)


def _set(name: str, **fields):
    def edit(m):
        t = _tensor(m, name)
        for k, v in fields.items():
            setattr(t.quantization if k in ("scale", "zeroPoint", "quantizedDimension") else t, k, v)
    return edit


def _graph(**fields):
    return lambda m: [setattr(m.subgraphs[0], k, v(m.subgraphs[0]) if callable(v) else v)
                      for k, v in fields.items()]


def _operator(n: int = 0, **fields):
    return lambda m: [setattr(m.subgraphs[0].operators[n], k, v) for k, v in fields.items()]


def _truncate_buffer(name: str):
    def edit(m):
        b = m.buffers[_tensor(m, name).buffer]
        b.data = b.data[:len(b.data) // 2]
    return edit


def _padv2_value(m, value: int):
    """PAD -> PADV2 with an int32 constant pad value."""
    sg = m.subgraphs[0]
    v = schema.TensorT()
    v.name, v.shape, v.type = b"v", [1], schema.TensorType.INT32
    m.buffers.append(schema.BufferT())
    m.buffers[-1].data = np.array([value], "<i4").tobytes()
    v.buffer = len(m.buffers) - 1
    sg.tensors.append(v)
    sg.operators[0].inputs = [*sg.operators[0].inputs, len(sg.tensors) - 1]
    m.operatorCodes[sg.operators[0].opcodeIndex].builtinCode = schema.BuiltinOperator.PADV2
    m.operatorCodes[sg.operators[0].opcodeIndex].deprecatedBuiltinCode = schema.BuiltinOperator.PADV2
    sg.operators[0].builtinOptionsType, sg.operators[0].builtinOptions = schema.BuiltinOptions.PadV2Options, \
        schema.PadV2OptionsT()


def _constant_reshape_to_other_size(m):
    """The RESHAPE's input becomes a 2-element constant while its output keeps 48 elements."""
    sg = m.subgraphs[0]
    c = schema.TensorT()
    c.name, c.shape, c.type = b"c", [2], schema.TensorType.INT8
    m.buffers.append(schema.BufferT())
    m.buffers[-1].data = bytes(2)
    c.buffer = len(m.buffers) - 1
    sg.tensors.append(c)
    sg.operators[2].inputs = [len(sg.tensors) - 1, *sg.operators[2].inputs[1:]]


def _constant_intermediate(m):
    """The pooling's output, which ADD reads, also carries constant data."""
    m.buffers.append(schema.BufferT())
    m.buffers[-1].data = bytes(48)
    _tensor(m, "p").buffer = len(m.buffers) - 1


def _cycle(m):
    """y = CONV(z), z = QUANTIZE(y): each operator needs the other's output first."""
    sg = m.subgraphs[0]
    z = schema.TensorT()
    z.name, z.shape, z.type, z.buffer = b"z", [1, 6, 6, 3], schema.TensorType.INT8, 0
    z.quantization = _tensor(m, "x").quantization
    sg.tensors.append(z)
    conv = sg.operators[0]
    conv.inputs = [len(sg.tensors) - 1, *conv.inputs[1:]]
    q = schema.OperatorT()
    m.operatorCodes.append(schema.OperatorCodeT())
    m.operatorCodes[-1].builtinCode = m.operatorCodes[-1].deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
    q.opcodeIndex, q.inputs, q.outputs = len(m.operatorCodes) - 1, list(conv.outputs), [len(sg.tensors) - 1]
    sg.operators.append(q)


CONV = "conv"
HOSTILE = {
    # sizes
    "dims_overflow_32_bits": (CONV, _set("x", shape=[1, 65536, 65536, 3]), "more than 2 GiB"),
    "dims_overflow_64_bits": (CONV, _set("x", shape=[2**31 - 1] * 4), "more than 2 GiB"),
    "huge_unused_string_tensor": (CONV, _set("w", type=schema.TensorType.STRING, shape=[2**31 - 1] * 3,
                                             buffer=0), "more than 2 GiB"),
    "zero_dim": (CONV, lambda m: [_set(n, shape=[1, 0, 6, c])(m) for n, c in (("x", 3), ("y", 4))], "is empty"),
    "negative_dim": (CONV, _set("x", shape=[1, -6, 6, 3]), "negative dimension"),
    "buffer_too_short": (CONV, _truncate_buffer("w"), "but its buffer holds"),
    # indices
    "tensor_index_out_of_range": (CONV, _operator(inputs=[99, 1, 2]), "refers to tensor 99"),
    "graph_input_out_of_range": (CONV, _graph(inputs=[-7]), "refers to tensor -7"),
    "buffer_index_out_of_range": (CONV, _set("w", buffer=1000), "refers to buffer 1000"),
    "opcode_index_out_of_range": (CONV, _operator(opcodeIndex=42), "uses opcode 42"),
    # graph structure
    "cycle": (CONV, _cycle, "before it is computed"),
    "output_is_own_input": (CONV, lambda m: _operator(inputs=[3, 1, 2])(m), "before it is computed"),
    "input_written_by_operator": (CONV, _graph(inputs=lambda sg: list(sg.outputs)), "more than one operator"),
    "operator_without_outputs": (CONV, _operator(outputs=[]), "never computed"),
    "operator_writes_a_constant": ("branching", _constant_intermediate, "which holds constant data"),
    "no_subgraph": (CONV, lambda m: setattr(m, "subgraphs", []), "no subgraph"),
    "too_many_operators": ("requantize", _graph(operators=lambda sg: sg.operators * 10_001), "10,001 operators"),
    # quantisation
    "activation_without_scales": (CONV, _set("y", scale=[]), "quantisation"),
    "zero_activation_scale": (CONV, _set("x", scale=[0.0]), "not a positive number"),
    "nan_activation_scale": (CONV, _set("y", scale=[float("nan")]), "not a positive number"),
    "infinite_weight_scale": (CONV, _set("w", scale=[float("inf")] * 4), "not a positive number"),
    "zero_point_above_int8": (CONV, _set("x", zeroPoint=[128]), "zero point outside [-128, 127]"),
    "zero_point_below_int8": (CONV, _set("y", zeroPoint=[-129]), "zero point outside [-128, 127]"),
    "zero_point_beyond_int32": (CONV, _set("bias", zeroPoint=[1 << 40] * 4), "zero point outside"),
    "per_channel_scale_count": (CONV, _set("w", scale=[0.01] * 3, zeroPoint=[0] * 3), "per-channel scales"),
    "quantized_dimension_out_of_range": (CONV, _set("w", quantizedDimension=7), "along axis 7"),
    # operands the lowerings read (each of these once made a kernel write past its output)
    "conv_output_batch": (CONV, _set("y", shape=[2, 6, 6, 4]), "output batch 2"),
    "pool_output_channels": ("avg_pool", _set("y", shape=[1, 3, 3, 1]), "output batch and channels"),
    "resize_output_batch": ("resize", _set("y", shape=[2, 4, 5, 2]), "output batch and channels"),
    "requantize_output_shape": ("requantize", _set("y", shape=[1, 3]), "differs from the input shape"),
    "concatenation_off_axis": ("concatenation", _set("c", shape=[1, 1, 1, 5]), "off the axis"),
    "add_output_not_broadcast": ("add_broadcast", _set("y", shape=[1, 4, 4, 1]), "is not the broadcast"),
    "padv2_value_outside_int8": ("pad", lambda m: _padv2_value(m, 300), "padding value 300"),
    # passes (each once raised IndexError or AttributeError)
    "constant_reshape_to_other_size": ("branching", _constant_reshape_to_other_size, "cannot be evaluated"),
    "dequantize_without_inputs": ("float_wrapped", _operator(2, inputs=[]), "float model"),
    "pad_with_omitted_input_before_conv": ("conv_pad_stride2", _operator(0, inputs=[-1, 2]), "missing input"),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_structure_is_one_clear_error(case):
    seed, edit, phrase = HOSTILE[case]
    with pytest.raises(TinyEngineError, match=re.escape(phrase)):
        emit_sources(compile_model(edited(GENERATED_SEEDS[seed], edit)))


def test_several_subgraphs_compile_the_first_as_tflite_runs_it():
    """TFLite's interpreter runs subgraph 0; the others (control-flow bodies) only through
    operators such as WHILE, which the generator refuses."""
    rng = np.random.default_rng(3)
    other = schema.ModelT.InitFromPackedBuf(GENERATED_SEEDS["requantize"], 0).subgraphs[0]
    assert_bit_exact(edited(GENERATED_SEEDS["conv"], lambda m: m.subgraphs.append(other)), rng, input_sets=1)


def _activation_dims(model: bytes) -> list[tuple[str, int, int]]:
    """(tensor, dim, size) of every int8 activation of a model."""
    sg = schema.ModelT.InitFromPackedBuf(model, 0).subgraphs[0]
    return [(t.name.decode(), d, int(n)) for t in sg.tensors if t.buffer == 0 and t.type == schema.TensorType.INT8
            for d, n in enumerate(t.shape)]


# float_wrapped: its mutable tensors are float; sum: LiteRT 2.3's int8 SUM reference is broken
# (test_kernel_data_movement.py judges SUM by TF-Lite Micro).
@pytest.mark.parametrize("seed", [k for k in GENERATED_SEEDS if k not in ("float_wrapped", "sum")])
def test_shape_mutations_are_refused_or_match_tflite(seed):
    """Each activation dimension grown, shrunk or doubled: the generator refuses the model, or
    TFLite (which recomputes output shapes itself) gives the same shapes and bytes."""
    accepted = []
    for name, d, n in _activation_dims(GENERATED_SEEDS[seed]):
        for new in {n + 1, n * 2, max(n - 1, 1)} - {n}:
            def edit(m, name=name, d=d, new=new):
                shape = list(_tensor(m, name).shape)
                shape[d] = new
                _tensor(m, name).shape = shape
            model = edited(GENERATED_SEEDS[seed], edit)
            try:
                compile_model(model)
            except TinyEngineError:
                continue
            accepted.append(model)
    rng = np.random.default_rng(len(seed))
    for model in accepted:
        assert_bit_exact(model, rng, input_sets=1)


def test_long_convolution_plans_in_bounded_time():
    """A depthwise convolution as long and wide as the kernels' int16 sizes take (16 MB of
    activations, inside the limit): the overlap proof walked such layers row by row in Python
    for about a minute; now blocks of rows."""
    rows, cols = (1 << 15) - 1, 128
    b = ModelBuilder()
    x = b.input("x", (1, rows, cols, 2), "int8", 0.1, 0)
    w = b.const("w", np.ones((1, 3, 1, 2), np.int8), [0.01, 0.01], 0, axis=3)
    y = b.tensor("y", (1, rows, cols, 2), "int8", 0.2, 0)
    b.op("DEPTHWISE_CONV_2D", [x, w], [y], version=3, padding=0, stride_h=1, stride_w=1, depth_multiplier=1)
    b.output(y)
    start = time.perf_counter()
    compile_model(b.finish())
    assert time.perf_counter() - start < 10


def test_constant_folding_allocates_no_more_than_the_output():
    """A GATHER of 440 KB of constants whose result would take 400 MB: refused unbuilt."""
    b = ModelBuilder()
    x = b.input("x", (1, 8), "int8", 0.1, 0)
    g = b.tensor("g", (2,), "int32")
    b.op("GATHER", [b.const("params", np.zeros((10, 10_000), np.int32)), b.const("idx", np.zeros(10_000, np.int32))],
         [g], axis=0)
    r = b.tensor("r", (1, 8), "int8", 0.1, 0)
    b.op("RESHAPE", [x, g], [r])
    b.output(r)
    model = b.finish()
    tracemalloc.start()
    try:
        with pytest.raises(TinyEngineError):
            compile_model(model)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20


INJECTION = "te_injected_by_name"


def test_names_cannot_leave_c_comments(tmp_path):
    """Tensor names land in comments of the generated C: none may end the comment (`*/`, or
    `*` and `/` joined by a backslash-newline or the trigraph `??/`), open a nested one
    (-Wcomment) or smuggle control characters."""
    names = [f"a*\\\n/ int {INJECTION}; /*", f"b*??/\n/ int {INJECTION}; /*", f"c*/ int {INJECTION}; /*",
             "d/*e", "f\x1b[31m\u202e\x00"]
    b = ModelBuilder()
    x = b.input(names[0], (1, 4), "int8", 0.1, 0)
    h = b.tensor(names[1], (1, 4), "int8", 0.2, 3)
    b.op("QUANTIZE", [x], [h])
    y = b.tensor(names[2], (1, 4), "int8", 0.3, 1)
    b.op("QUANTIZE", [h], [y])
    b.output(y)
    for n, t in zip(names[3:], (b.input(names[3], (1, 4), "int8", 0.1, 0),)):
        b.output(t)  # an input that is also an output: its name is in both headers
    write_sources(emit_sources(compile_model(edited(b.finish(), lambda m: None), name=names[4])), tmp_path)
    result = subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-E", "-I", str(C_INCLUDE_DIR),
                             "-I", str(tmp_path), str(tmp_path / "genModel.c")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert INJECTION not in result.stdout  # the preprocessor dropped every comment, names and all
    text = "".join(p.read_text() for p in tmp_path.iterdir())
    assert all(ch == "\n" or " " <= ch <= "~" for ch in text)
