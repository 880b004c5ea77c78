"""The person-detection demo's C modules against their NumPy reference (tests/detection_reference.py):
YOLOv3 post-processing (te_detection.h) on detection.tflite's real outputs and on hand-made
heads, camera-frame preprocessing (te_image.h) byte for byte, and the host demo end to end
against the same pipeline in Python with TFLite's reference kernels."""

from __future__ import annotations

import ctypes
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from platformio_tinyengine.resources import C_INCLUDE_DIR, C_SOURCE_DIR, ROOT
from tests import detection_reference as ref
from tests.conftest import SHARED_MODELS, requires_arm_gcc, requires_shared_models
from tests.harness import WARNINGS, HostModel, library_objects
from tests.reference import run_reference

EXAMPLE = ROOT / "examples" / "openmv_person_detection"
IMAGES = EXAMPLE / "images"
MODEL = SHARED_MODELS / "detection.tflite"
CONFIG = SHARED_MODELS / "detection_config.json"
SOURCES = [C_SOURCE_DIR / "detection" / "detection.c", C_SOURCE_DIR / "image" / "image.c"]
ARM_FLAGS = ["-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"]
TE_OK, TE_ERROR_ARGUMENT = 0, 1
RGB565, RGB888 = 0, 1
MAX_HEADS = MAX_ANCHORS = 4
F32 = np.float32


# ---------------------------------------------------------------- the C modules through ctypes

class Head(ctypes.Structure):
    _fields_ = [("grid_h", ctypes.c_int32), ("grid_w", ctypes.c_int32), ("stride", ctypes.c_int32),
                ("num_anchors", ctypes.c_int32), ("anchors", (ctypes.c_float * 2) * MAX_ANCHORS),
                ("scale", ctypes.c_float), ("zero_point", ctypes.c_int32)]


class DetectionParams(ctypes.Structure):
    _fields_ = [("num_heads", ctypes.c_int32), ("heads", Head * MAX_HEADS), ("num_classes", ctypes.c_int32),
                ("input_h", ctypes.c_int32), ("input_w", ctypes.c_int32), ("frame_h", ctypes.c_int32),
                ("frame_w", ctypes.c_int32), ("score_threshold", ctypes.c_float),
                ("iou_threshold", ctypes.c_float), ("max_candidates", ctypes.c_int32),
                ("max_boxes", ctypes.c_int32)]


class Box(ctypes.Structure):
    _fields_ = [("x0", ctypes.c_float), ("y0", ctypes.c_float), ("x1", ctypes.c_float), ("y1", ctypes.c_float),
                ("score", ctypes.c_float), ("class_id", ctypes.c_int32)]


class AnchorSet(ctypes.Structure):
    _fields_ = [("stride", ctypes.c_int32), ("num_anchors", ctypes.c_int32),
                ("anchors", (ctypes.c_float * 2) * MAX_ANCHORS)]


class NormParams(ctypes.Structure):
    _fields_ = [("mean", ctypes.c_float * 3), ("std", ctypes.c_float * 3), ("scale", ctypes.c_float),
                ("zero_point", ctypes.c_int32)]


class ImageParams(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("src_h", ctypes.c_int32), ("src_w", ctypes.c_int32),
                ("dst_h", ctypes.c_int32), ("dst_w", ctypes.c_int32), ("table", ctypes.POINTER(ctypes.c_int8))]


STRUCTS = {"te_detection_head": Head, "te_detection_params": DetectionParams, "te_detection_box": Box,
           "te_detection_anchor_set": AnchorSet, "te_image_norm_params": NormParams, "te_image_params": ImageParams}


def _build(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)[:300]}\n{result.stderr[:3000]}"


def _head(spec: ref.Head) -> Head:
    h = Head(spec.grid_h, spec.grid_w, spec.stride, len(spec.anchors))
    for a, (w, hh) in enumerate(spec.anchors):
        h.anchors[a][0], h.anchors[a][1] = float(w), float(hh)
    h.scale, h.zero_point = spec.scale, spec.zero_point
    return h


class CModules:
    def __init__(self, path: Path):
        self.lib = ctypes.CDLL(str(path))
        self.lib.te_detection_yolov3.restype = ctypes.c_int
        self.lib.te_detection_head_init.restype = ctypes.c_int
        self.lib.te_image_quant_table.restype = ctypes.c_int
        self.lib.te_image_to_input.restype = ctypes.c_int

    def detect(self, outputs, heads: list[ref.Head], **kw) -> tuple[int, np.ndarray]:
        p = DetectionParams(len(heads))
        for i, h in enumerate(heads):
            p.heads[i] = _head(h)
        for name, value in kw.items():
            setattr(p, name, value)
        buffers = [np.ascontiguousarray(o, dtype=np.int8).reshape(-1) for o in outputs]
        ptrs = (ctypes.c_void_p * max(len(buffers), 1))(*[b.ctypes.data for b in buffers])
        candidates = (Box * max(p.max_candidates, 1))()
        boxes = (Box * max(p.max_boxes, 1))()
        count = ctypes.c_int32(-1)
        status = self.lib.te_detection_yolov3(ctypes.byref(p), ptrs, candidates, boxes, ctypes.byref(count))
        rows = [[b.x0, b.y0, b.x1, b.y1, b.score, b.class_id] for b in boxes[:max(count.value, 0)]]
        return status, np.array(rows, dtype=F32).reshape(-1, 6)

    def head_init(self, shape, scale, zero_point, input_h, input_w, num_classes, sets) -> tuple[int, Head]:
        c_sets = (AnchorSet * len(sets))()
        for s, (stride, anchors) in enumerate(sets):
            c_sets[s].stride, c_sets[s].num_anchors = stride, len(anchors)
            for a, (w, h) in enumerate(anchors):
                c_sets[s].anchors[a][0], c_sets[s].anchors[a][1] = w, h
        head = Head()
        status = self.lib.te_detection_head_init(ctypes.byref(head), (ctypes.c_int32 * 4)(*shape),
                                                 ctypes.c_float(scale), zero_point, input_h, input_w, num_classes,
                                                 c_sets, len(sets))
        return status, head

    def quant_table(self, mean, std, scale, zero_point) -> tuple[int, np.ndarray]:
        p = NormParams((ctypes.c_float * 3)(*mean), (ctypes.c_float * 3)(*std), scale, zero_point)
        table = np.zeros((3, 256), dtype=np.int8)
        status = self.lib.te_image_quant_table(ctypes.byref(p), table.ctypes.data_as(ctypes.POINTER(ctypes.c_int8)))
        return status, table

    def to_input(self, frame: np.ndarray, dst_h: int, dst_w: int, table: np.ndarray | None,
                 fmt: int | None = None) -> tuple[int, np.ndarray]:
        if fmt is None:
            fmt = RGB565 if frame.ndim == 2 else RGB888
        src_h, src_w = frame.shape[:2]
        raw = np.ascontiguousarray(frame.astype("<u2") if frame.ndim == 2 else frame)
        table_ptr = None if table is None else table.ctypes.data_as(ctypes.POINTER(ctypes.c_int8))
        p = ImageParams(fmt, src_h, src_w, dst_h, dst_w, table_ptr)
        out = np.zeros((max(dst_h, 0), max(dst_w, 0), 3), dtype=np.int8)
        status = self.lib.te_image_to_input(ctypes.byref(p), raw.ctypes.data_as(ctypes.c_void_p),
                                            out.ctypes.data_as(ctypes.c_void_p))
        return status, out


@pytest.fixture(scope="module")
def c_modules(tmp_path_factory) -> CModules:
    lib = tmp_path_factory.mktemp("te_detection") / "libte_detection.so"
    _build(["gcc", *WARNINGS, "-O2", "-fPIC", "-shared", "-I", str(C_INCLUDE_DIR), *map(str, SOURCES), "-lm",
            "-o", str(lib)])
    return CModules(lib)


def test_ctypes_mirrors_match_the_headers(tmp_path):
    """Every field of the ctypes mirrors sits where the C compiler puts it."""
    lines = [f'printf("{s} %zu\\n", sizeof({s}));' for s in STRUCTS]
    lines += [f'printf("{s}.{f} %zu\\n", offsetof({s}, {f}));' for s, c in STRUCTS.items() for f, _ in c._fields_]
    src = tmp_path / "layout.c"
    src.write_text('#include <stddef.h>\n#include <stdio.h>\n#include "te_detection.h"\n#include "te_image.h"\n'
                   "int main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n")
    _build(["gcc", *WARNINGS, "-I", str(C_INCLUDE_DIR), str(src), "-o", str(tmp_path / "layout")])
    got = dict(line.rsplit(" ", 1) for line in subprocess.run([str(tmp_path / "layout")], capture_output=True,
                                                             text=True, check=True).stdout.splitlines())
    expected = {s: ctypes.sizeof(c) for s, c in STRUCTS.items()}
    expected.update({f"{s}.{f}": getattr(c, f).offset for s, c in STRUCTS.items() for f, _ in c._fields_})
    assert {k: int(v) for k, v in got.items()} == expected


# ---------------------------------------------------------------- sample frames and the real model

SAMPLES = json.loads((IMAGES / "persons.json").read_text())


def test_sample_frames_are_small_and_described():
    files = sorted(p.name for p in IMAGES.iterdir() if p.suffix in (".ppm", ".rgb565"))
    assert files == sorted(SAMPLES)
    licence = (IMAGES / "LICENSE.md").read_text()
    for name, info in SAMPLES.items():
        path = IMAGES / name
        assert path.stat().st_size < 100_000 and name in licence
        frame = ref.load_frame(path)
        assert frame.shape[:2] == (info["height"], info["width"])
        assert (frame.ndim == 2) == (info["format"] == "rgb565")


class Detector:
    """detection.tflite generated and built once, with what the Python pipeline needs."""

    def __init__(self, workdir: Path):
        self.model = MODEL.read_bytes()
        self.host = HostModel(self.model, workdir)
        graph = self.host.compiled.graph
        (_, self.input_h, self.input_w, _), = [t.shape for t in graph.inputs]
        q = graph.inputs[0].quant
        self.table = ref.quant_table(ref.DEMO_MEAN, ref.DEMO_STD, float(q.scale[0]), int(q.zero_point[0]))
        self.heads = ref.heads_for_outputs([t.shape for t in graph.outputs],
                                           [float(t.quant.scale[0]) for t in graph.outputs],
                                           [int(t.quant.zero_point[0]) for t in graph.outputs],
                                           ref.load_anchor_sets(CONFIG), self.input_h, self.input_w)

    def settings(self, frame_h: int, frame_w: int, **overrides) -> dict:
        s = dict(num_classes=1, input_h=self.input_h, input_w=self.input_w, frame_h=frame_h, frame_w=frame_w,
                 score_threshold=ref.DEMO_SCORE_THRESHOLD, iou_threshold=ref.DEMO_IOU_THRESHOLD,
                 max_candidates=ref.DEMO_MAX_CANDIDATES, max_boxes=ref.DEMO_MAX_BOXES)
        s.update(overrides)
        return s

    def python_pipeline(self, frame: np.ndarray) -> np.ndarray:
        """NumPy preprocessing, TFLite's reference kernels, NumPy post-processing."""
        x = ref.preprocess(frame, self.input_h, self.input_w, self.table)
        outputs = run_reference(self.model, [x[None]])
        return ref.decode(outputs, self.heads, **self.settings(*frame.shape[:2]))


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> Detector:
    if not MODEL.is_file():
        pytest.skip(f"detection.tflite is not at {MODEL} (set TINYENGINE_MODELS to the model collection)")
    return Detector(tmp_path_factory.mktemp("te_detector"))


@pytest.fixture(scope="module")
def real_outputs(detector) -> list[tuple[str, tuple[int, int], list[np.ndarray]]]:
    """The model's outputs on the sample frames, their mirror images and two noise frames:
    from the generated C and from TFLite's reference kernels, which must agree byte for byte."""
    rng = np.random.default_rng(7)
    frames = {name: ref.load_frame(IMAGES / name) for name in SAMPLES}
    frames.update({f"{name} mirrored": f[:, ::-1] for name, f in list(frames.items())})
    frames["noise rgb888 240x320"] = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    frames["noise rgb565 97x131"] = rng.integers(0, 1 << 16, (97, 131), dtype=np.uint16)
    inputs = {name: ref.preprocess(f, detector.input_h, detector.input_w, detector.table) for name, f in frames.items()}
    generated = detector.host.run([[x[None]] for x in inputs.values()])
    result = []
    for (name, frame), x, outs in zip(frames.items(), inputs.values(), generated):
        expected = run_reference(detector.model, [x[None]])
        for g, e in zip(outs, expected):
            np.testing.assert_array_equal(g, e.reshape(g.shape), err_msg=name)
        result.append((name, frame.shape[:2], outs))
    return result


def assert_same_boxes(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert got.shape == expected.shape, f"{what}: {len(got)} boxes, the reference has {len(expected)}"
    np.testing.assert_array_equal(got[:, 5], expected[:, 5], err_msg=f"{what}: classes")
    np.testing.assert_allclose(got[:, :5], expected[:, :5], rtol=1e-3, atol=1e-4, err_msg=what)


@requires_shared_models
def test_heads_are_anchor_major_nhwc(detector, real_outputs):
    """The layout te_detection.h assumes, seen in the model's outputs: in every group of 6
    channels the objectness channel (4) has by far the lowest mean (most cells hold no
    person) and the class channel (5) the highest, for every head and anchor."""
    for head, spec in enumerate(detector.heads):
        t = np.concatenate([outs[head].reshape(-1, 18) for _, _, outs in real_outputs]).astype(np.float64)
        means = ((t - spec.zero_point) * spec.scale).mean(axis=0).reshape(3, 6)
        assert (means.argmin(axis=1) == 4).all() and (means.argmax(axis=1) == 5).all(), means
        assert (means[:, 4] < means[:, :4].min(axis=1) - 5).all(), means


@requires_shared_models
@pytest.mark.parametrize("settings", [
    {},
    {"score_threshold": 0.05, "iou_threshold": 0.3},
    {"score_threshold": 0.01, "max_candidates": 16, "max_boxes": 6},
    {"score_threshold": 0.02, "iou_threshold": 0.9, "max_candidates": 200, "max_boxes": 200},
], ids=["demo", "low-threshold", "truncated", "loose-nms"])
def test_postprocessing_matches_reference_on_real_outputs(c_modules, detector, real_outputs, settings):
    for name, (h, w), outs in real_outputs:
        s = detector.settings(h, w, **settings)
        status, got = c_modules.detect(outs, detector.heads, **s)
        assert status == TE_OK
        assert_same_boxes(got, ref.decode(outs, detector.heads, **s), name)


# ---------------------------------------------------------------- hand-made heads

GRIDS = [(4, 5, 32), (8, 10, 16), (16, 20, 8)]
ANCHORS = {32: [(116, 90), (156, 198), (373, 326)], 16: [(30, 61), (62, 45), (59, 119)],
           8: [(10, 13), (16, 30), (33, 23)]}
SCALE = 0.125  # real = q / 8: every value below is exact


def synthetic_heads(num_classes: int = 1) -> tuple[list[ref.Head], list[np.ndarray]]:
    """Three empty heads shaped like detection.tflite's: objectness and classes at q = -128 (-16)."""
    heads = [ref.Head(gh, gw, s, np.array(ANCHORS[s], dtype=F32), SCALE, 0) for gh, gw, s in GRIDS]
    outs = []
    for gh, gw, _ in GRIDS:
        t = np.zeros((gh, gw, 3, 5 + num_classes), dtype=np.int8)
        t[..., 4:] = -128
        outs.append(t)
    return heads, outs


def put(outs, head: int, y: int, x: int, a: int, tx=0, ty=0, tw=0, th=0, obj=127, cls=(127,)):
    outs[head][y, x, a] = [tx, ty, tw, th, obj, *cls]


def sig(v: float) -> float:
    return 1.0 / (1.0 + np.exp(-v))


def expected_box(head: int, y: int, x: int, a: int, tx=0, ty=0, tw=0, th=0, frame=(128, 160)) -> np.ndarray:
    """The decoded box worked out by hand (float64), clipped to the 160x128 input, scaled to the frame."""
    _, _, s = GRIDS[head]
    aw, ah = ANCHORS[s][a]
    cx, cy = (sig(tx / 8) + x) * s, (sig(ty / 8) + y) * s
    w, h = np.exp(tw / 8) * aw, np.exp(th / 8) * ah
    box = np.clip([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 0, [160, 128, 160, 128])
    return box * [frame[1] / 160, frame[0] / 128, frame[1] / 160, frame[0] / 128]


def run_both(c_modules, heads, outs, **overrides):
    s = dict(num_classes=1, input_h=128, input_w=160, frame_h=128, frame_w=160, score_threshold=0.5,
             iou_threshold=0.45, max_candidates=32, max_boxes=8)
    s.update(overrides)
    status, got = c_modules.detect(outs, heads, **s)
    assert status == TE_OK
    assert_same_boxes(got, ref.decode(outs, heads, **s), "hand-made heads")
    return got


def test_one_strong_detection_per_head(c_modules):
    heads, outs = synthetic_heads()
    spots = [(0, 1, 2, 0, dict(tx=8, ty=-8)), (1, 5, 7, 1, dict(tw=4, th=-4)), (2, 9, 3, 2, dict(tx=-16))]
    scores = [127, 100, 60]  # objectness, so the heads come out in this order
    for (head, y, x, a, t), obj in zip(spots, scores):
        put(outs, head, y, x, a, obj=obj, **t)
    got = run_both(c_modules, heads, outs, frame_h=240, frame_w=320)
    assert len(got) == 3
    for row, (head, y, x, a, t), obj in zip(got, spots, scores):
        np.testing.assert_allclose(row[:4], expected_box(head, y, x, a, frame=(240, 320), **t), rtol=1e-5)
        assert row[4] == pytest.approx(sig(obj / 8) * sig(127 / 8), rel=1e-6)


def test_nms_removes_overlapping_duplicates_and_keeps_the_best(c_modules):
    heads, outs = synthetic_heads()
    put(outs, 2, 8, 10, 1, obj=60)               # 16x30 centred at (84, 68)
    put(outs, 2, 8, 10, 2, obj=50)               # 33x23, same centre: IoU 0.42 with it, kept
    put(outs, 2, 8, 11, 2, tx=-8, obj=40)        # 33x23, 6 px to the right: IoU 0.69 with the one above, suppressed
    put(outs, 1, 4, 5, 2, tw=1, th=1, obj=30)    # 67x135 around all of them (clipped): IoU < 0.1, kept
    got = run_both(c_modules, heads, outs)
    np.testing.assert_allclose(got[:, :4], [expected_box(2, 8, 10, 1), expected_box(2, 8, 10, 2),
                                            expected_box(1, 4, 5, 2, tw=1, th=1)], rtol=1e-5)
    # A strict IoU threshold leaves only the best; a loose one keeps all four.
    np.testing.assert_array_equal(run_both(c_modules, heads, outs, iou_threshold=0.05), got[:1])
    assert len(run_both(c_modules, heads, outs, iou_threshold=0.99)) == 4


def test_an_iou_exactly_at_the_threshold_does_not_suppress(c_modules):
    """Two 10x13 boxes 8 px apart: IoU = 26 / 234 exactly as the C computes it in float."""
    heads, outs = synthetic_heads()
    put(outs, 2, 5, 5, 0)
    put(outs, 2, 5, 6, 0, obj=100)
    iou_exact = F32(26) / F32(234)
    assert len(run_both(c_modules, heads, outs, iou_threshold=float(iou_exact))) == 2
    assert len(run_both(c_modules, heads, outs, iou_threshold=float(np.nextafter(iou_exact, F32(0))))) == 1


def test_boxes_at_the_border_are_clipped_to_the_frame(c_modules):
    heads, outs = synthetic_heads()
    put(outs, 0, 0, 0, 2)                        # 373x326 centred at (16, 16): all four sides clipped
    put(outs, 2, 15, 19, 0, tx=40, ty=40, tw=20, th=20)  # bottom-right corner, 12x16 px beyond it
    got = run_both(c_modules, heads, outs, frame_h=150, frame_w=200, iou_threshold=0.99)
    np.testing.assert_array_equal(got[0, :4], [0, 0, 200, 150])
    assert got[1, 2] == 200 and got[1, 3] == 150 and 0 < got[1, 0] < 200 and 0 < got[1, 1] < 150
    np.testing.assert_allclose(got[1, :4], expected_box(2, 15, 19, 0, tx=40, ty=40, tw=20, th=20,
                                                        frame=(150, 200)), rtol=1e-5)


def test_a_score_exactly_at_the_threshold_is_kept(c_modules):
    """objectness and class 0 give sigmoid(0) * sigmoid(0) = 0.25 exactly."""
    heads, outs = synthetic_heads()
    put(outs, 1, 2, 3, 0, obj=0, cls=(0,))
    assert len(run_both(c_modules, heads, outs, score_threshold=0.25)) == 1
    assert len(run_both(c_modules, heads, outs, score_threshold=float(np.nextafter(F32(0.25), F32(1))))) == 0
    assert len(run_both(c_modules, heads, outs, score_threshold=float(np.nextafter(F32(0.25), F32(0))))) == 1


def test_equal_scores_keep_their_enumeration_order(c_modules):
    """Head, row, column, anchor: identical detections far apart come out in that order."""
    heads, outs = synthetic_heads()
    spots = [(2, 12, 2, 0), (0, 0, 4, 0), (2, 1, 18, 1), (1, 7, 0, 2), (2, 1, 2, 0)]
    for spot in spots:
        put(outs, *spot)
    got = run_both(c_modules, heads, outs)
    assert len(set(got[:, 4].tolist())) == 1
    order = sorted(spots)
    np.testing.assert_allclose(got[:, :4], [expected_box(*s) for s in order], rtol=1e-5)
    # Limits keep the first of them: max_candidates before suppression, max_boxes after.
    np.testing.assert_array_equal(run_both(c_modules, heads, outs, max_candidates=2), got[:2])
    np.testing.assert_array_equal(run_both(c_modules, heads, outs, max_boxes=3), got[:3])


def test_classes_do_not_suppress_each_other(c_modules):
    heads, outs = synthetic_heads(num_classes=2)
    put(outs, 1, 3, 3, 0, cls=(127, 40))         # one cell, both classes above the threshold
    put(outs, 1, 3, 4, 0, tx=-24, cls=(-128, 127))  # its neighbour, 9 px off (IoU 0.55), class 1 only
    got = run_both(c_modules, heads, outs, num_classes=2)
    # The neighbour's class-1 box suppresses the weaker class-1 box of the first cell, not its class-0 box.
    np.testing.assert_array_equal(got[:, 5], [0, 1])
    np.testing.assert_allclose(got[:, :4], [expected_box(1, 3, 3, 0), expected_box(1, 3, 4, 0, tx=-24)], rtol=1e-5)
    assert got[1, 4] > sig(40 / 8) * sig(127 / 8)
    assert len(run_both(c_modules, heads, outs, num_classes=2, iou_threshold=0.6)) == 3


def test_invalid_detection_parameters_are_refused(c_modules):
    heads, outs = synthetic_heads()
    good = dict(num_classes=1, input_h=128, input_w=160, frame_h=128, frame_w=160, score_threshold=0.5,
                iou_threshold=0.45, max_candidates=8, max_boxes=8)
    assert c_modules.detect(outs, heads, **good)[0] == TE_OK
    for field, value in [("num_classes", 0), ("frame_w", 0), ("input_h", 0), ("max_candidates", 0),
                         ("max_boxes", 0), ("score_threshold", float("nan")), ("iou_threshold", float("nan"))]:
        assert c_modules.detect(outs, heads, **{**good, field: value})[0] == TE_ERROR_ARGUMENT, field
    assert c_modules.detect([], [], **good)[0] == TE_ERROR_ARGUMENT
    bad = [ref.Head(h.grid_h, h.grid_w, h.stride, h.anchors, 0.0, 0) for h in heads]
    assert c_modules.detect(outs, bad, **good)[0] == TE_ERROR_ARGUMENT


def test_head_init_picks_the_anchor_set_of_the_head_stride(c_modules):
    sets = [(stride, ANCHORS[stride]) for stride in (32, 16, 8)]
    for gh, gw, stride in GRIDS:
        status, head = c_modules.head_init((1, gh, gw, 18), 0.1, -3, 128, 160, 1, sets)
        assert status == TE_OK
        assert (head.grid_h, head.grid_w, head.stride, head.num_anchors, head.zero_point) == (gh, gw, stride, 3, -3)
        assert head.scale == F32(0.1)
        assert [tuple(head.anchors[a]) for a in range(3)] == ANCHORS[stride]
    refused = [((1, 4, 5, 17), 1), ((1, 4, 5, 18), 2),  # channels not anchors * (5 + classes)
               ((1, 3, 5, 18), 1),                        # 128 rows do not tile into 3
               ((1, 4, 10, 18), 1),                       # strides 32 and 16 disagree
               ((1, 1, 1, 18), 1),                        # stride 128 has no anchor set
               ((2, 4, 5, 18), 1)]                        # batch 2
    for shape, classes in refused:
        assert c_modules.head_init(shape, 0.1, 0, 128, 160, classes, sets)[0] == TE_ERROR_ARGUMENT, shape


# ---------------------------------------------------------------- preprocessing

FRAME_SIZES = [(1, 1), (3, 5), (7, 13), (61, 97), (128, 160), (120, 160), (240, 320), (241, 319), (480, 640)]
INPUT_SIZES = [(128, 160), (1, 1), (17, 23), (96, 96), (300, 401)]


@pytest.mark.parametrize("fmt", [RGB565, RGB888], ids=["rgb565", "rgb888"])
@pytest.mark.parametrize("dst", INPUT_SIZES, ids=[f"to{h}x{w}" for h, w in INPUT_SIZES])
def test_preprocessing_matches_reference_byte_for_byte(c_modules, fmt, dst):
    rng = np.random.default_rng(dst[0] * 1000 + dst[1] + fmt)
    table = rng.integers(-128, 128, (3, 256), dtype=np.int8)  # any table: this checks resize and lookup
    for h, w in FRAME_SIZES:
        if fmt == RGB565:
            frame = rng.integers(0, 1 << 16, (h, w), dtype=np.uint16)
        else:
            frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        status, got = c_modules.to_input(frame, *dst, table)
        assert status == TE_OK
        np.testing.assert_array_equal(got, ref.preprocess(frame, *dst, table), err_msg=f"{h}x{w} -> {dst}")


def test_resize_properties(c_modules):
    """Independent of the reference: the same size is a copy, 2:1 averages each 2x2 block
    (rounded half up), and a constant frame stays constant at any size."""
    rng = np.random.default_rng(3)
    identity = np.arange(256, dtype=np.uint8).view(np.int8).reshape(1, 256).repeat(3, axis=0)
    frame = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    assert np.array_equal(c_modules.to_input(frame, 37, 53, identity)[1].view(np.uint8), frame)
    big = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    blocks = big.reshape(32, 2, 40, 2, 3).astype(np.int32).sum(axis=(1, 3))
    assert np.array_equal(c_modules.to_input(big, 32, 40, identity)[1].view(np.uint8), (blocks + 2) // 4)
    flat = np.full((45, 70, 3), (12, 200, 99), dtype=np.uint8)
    for dst in [(1, 1), (128, 160), (200, 33)]:
        assert (c_modules.to_input(flat, *dst, identity)[1].view(np.uint8) == (12, 200, 99)).all()


def test_rgb565_channels_widen_to_full_scale(c_modules):
    identity = np.arange(256, dtype=np.uint8).view(np.int8).reshape(1, 256).repeat(3, axis=0)
    r5, g6, b5 = np.meshgrid(np.arange(32), np.arange(64), np.arange(32), indexing="ij")
    pixels = ((r5 << 11) | (g6 << 5) | b5).astype(np.uint16).reshape(256, 256)
    status, got = c_modules.to_input(pixels, 256, 256, identity)
    assert status == TE_OK
    rgb = got.view(np.uint8).reshape(-1, 3)
    # Each field lands within 4 of its exact share of 255, with 0 and 255 at the ends.
    for channel, (bits, top) in enumerate([(r5, 31), (g6, 63), (b5, 31)]):
        values, bits = rgb[:, channel].astype(int), bits.reshape(-1)
        assert (values[bits == 0] == 0).all() and (values[bits == top] == 255).all()
        assert np.abs(values - bits * 255 / top).max() < 4
    np.testing.assert_array_equal(rgb, ref.rgb565_to_rgb888(pixels).reshape(-1, 3))


NORMS = [((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 0.0235197283, -18),   # the demo on detection.tflite
         ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 1 / 255, -128),        # [0, 1] into a full int8 range
         ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 0.0235197283, -18),  # ImageNet
         ((0.0, 0.0, 0.0), (1 / 255, 1 / 255, 1 / 255), 0.5, 3),   # [0, 255]: saturates
         ((0.3, 0.1, 0.9), (0.01, 2.0, 0.07), 0.013, 127)]


@pytest.mark.parametrize("norm", NORMS, ids=["demo", "unit", "imagenet", "pixels", "odd"])
def test_quantisation_table_matches_reference(c_modules, norm):
    status, got = c_modules.quant_table(*norm)
    assert status == TE_OK
    np.testing.assert_array_equal(got, ref.quant_table(*norm))
    # Within half a step of the exact value wherever it does not saturate.
    mean, std, scale, zp = (np.asarray(v, dtype=np.float64) for v in norm)
    exact = (np.arange(256)[None, :] / 255 - mean[:, None]) / std[:, None] / scale + zp
    inside = (exact > -128.5) & (exact < 127.5)
    assert np.abs(got[inside] - exact[inside]).max() <= 0.5 + 1e-6
    assert (got[exact <= -128.5] == -128).all() and (got[exact >= 127.5] == 127).all()


def test_invalid_image_parameters_are_refused(c_modules):
    frame = np.zeros((4, 4, 3), dtype=np.uint8)
    table = np.zeros((3, 256), dtype=np.int8)
    assert c_modules.to_input(frame, 2, 2, table)[0] == TE_OK
    assert c_modules.to_input(frame, 2, 2, None)[0] == TE_ERROR_ARGUMENT
    assert c_modules.to_input(frame, 2, 2, table, fmt=2)[0] == TE_ERROR_ARGUMENT
    assert c_modules.to_input(frame, 0, 2, table)[0] == TE_ERROR_ARGUMENT
    assert c_modules.to_input(frame, 2, 8193, table)[0] == TE_ERROR_ARGUMENT
    for mean, std, scale in [((0, 0, 0), (1, 0, 1), 0.1), ((0, 0, 0), (1, 1, 1), 0.0),
                             ((0, float("nan"), 0), (1, 1, 1), 0.1), ((0, 0, 0), (1, 1, -1), 0.1)]:
        assert c_modules.quant_table(mean, std, scale, 0)[0] == TE_ERROR_ARGUMENT


# ---------------------------------------------------------------- the host demo end to end

def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h)


@pytest.fixture(scope="module")
def host_demo(detector, tmp_path_factory) -> Path:
    exe = tmp_path_factory.mktemp("te_demo") / "host_demo"
    _build(["gcc", *WARNINGS, "-O2", "-I", str(C_INCLUDE_DIR), "-I", str(detector.host.gen_dir), "-I", str(EXAMPLE),
            *map(str, sorted(detector.host.gen_dir.glob("*.c"))), *map(str, library_objects(())),
            str(EXAMPLE / "person_detector.c"), str(EXAMPLE / "host_demo.c"), "-lm", "-o", str(exe)])
    return exe


BOX_LINE = re.compile(r"^box (\d+): x0 (\S+) y0 (\S+) x1 (\S+) y1 (\S+) score (\S+) class (\d+)$", re.MULTILINE)


@requires_shared_models
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_host_demo_matches_the_python_pipeline(host_demo, detector, name):
    """Sample frame -> C preprocessing -> generated model -> C post-processing, printed by the demo,
    equals NumPy preprocessing -> TFLite's reference kernels -> NumPy post-processing; and the
    boxes are where the people are."""
    info = SAMPLES[name]
    args = [str(IMAGES / name)] + ([str(info["width"]), str(info["height"])] if info["format"] == "rgb565" else [])
    result = subprocess.run([str(host_demo), *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"frame {info['width']}x{info['height']} {info['format']}:")
    got = np.array([[float(v) for v in m[1:]] for m in BOX_LINE.findall(result.stdout)], dtype=F32).reshape(-1, 6)
    assert_same_boxes(got, detector.python_pipeline(ref.load_frame(IMAGES / name)), name)
    for person in info["persons"]:
        assert max(iou(person, box) for box in got) >= 0.5, f"{name}: no box on the person at {person}"
    for box in got:
        assert max(iou(person, box) for person in info["persons"]) >= 0.5, f"{name}: a box on no person: {box}"


def test_host_demo_refuses_bad_frames(host_demo, tmp_path):
    bad = tmp_path / "bad.ppm"
    bad.write_bytes(b"P6\n4 4\n255\n" + bytes(10))  # truncated
    for args in [[str(bad)], [str(tmp_path / "missing.ppm")], [str(bad), "0", "4"], []]:
        result = subprocess.run([str(host_demo), *args], capture_output=True, text=True)
        assert result.returncode == 2 and result.stderr, args


@requires_arm_gcc
@requires_shared_models
def test_example_builds_for_cortex_m7(detector, tmp_path):
    """The demo's pipeline (not the stdio host program) with the generated model, for the OpenMV H7's core."""
    for src in [EXAMPLE / "person_detector.c", *SOURCES]:
        _build(["arm-none-eabi-gcc", *WARNINGS, "-O2", *ARM_FLAGS, "-I", str(C_INCLUDE_DIR),
                "-I", str(detector.host.gen_dir), "-I", str(EXAMPLE),
                "-c", str(src), "-o", str(tmp_path / (src.stem + ".o"))])
