"""NumPy reference of the person-detection demo's C modules (te_image.h, te_detection.h).

Written from the specification, not from the C: the camera frame (RGB565 little-endian
or RGB888) resized with integer bilinear interpolation to the model input and quantised
through a per-channel table; the three YOLOv3 heads decoded from int8, thresholded,
sorted, suppressed and scaled to the frame. Float work is float32, as in the C, except
the quantisation table, which both build in float64.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

F32 = np.float32

# The demo's normalisation, pixels mapped to [-1, 1] (examples/openmv_person_detection/README.md
# says why), and its thresholds and limits.
DEMO_MEAN = (0.5, 0.5, 0.5)
DEMO_STD = (0.5, 0.5, 0.5)
DEMO_SCORE_THRESHOLD = 0.3
DEMO_IOU_THRESHOLD = 0.45
DEMO_MAX_CANDIDATES = 64
DEMO_MAX_BOXES = 10


# ---------------------------------------------------------------- frames

def load_frame(path: Path) -> np.ndarray:
    """A sample frame: (h, w, 3) uint8 from a binary PPM, (h, w) uint16 from raw RGB565
    little-endian named NAME_WxH.rgb565."""
    path = Path(path)
    if path.suffix == ".ppm":
        magic, w, h, maxval, data = path.read_bytes().split(maxsplit=4)
        assert magic == b"P6" and maxval == b"255", f"{path}: not a binary 8-bit PPM"
        return np.frombuffer(data, dtype=np.uint8).reshape(int(h), int(w), 3)
    w, h = map(int, path.stem.rsplit("_", 1)[1].split("x"))
    return np.frombuffer(path.read_bytes(), dtype="<u2").reshape(h, w)


# ---------------------------------------------------------------- preprocessing

def rgb565_to_rgb888(frame: np.ndarray) -> np.ndarray:
    """(h, w) uint16 pixels (or the raw little-endian bytes reshaped to (h, w, 2)) -> (h, w, 3) uint8,
    each field widened by repeating its top bits (0 -> 0, full scale -> 255)."""
    if frame.dtype == np.uint8:
        frame = frame[..., 0].astype(np.uint16) | (frame[..., 1].astype(np.uint16) << 8)
    r5 = (frame >> 11) & 0x1F
    g6 = (frame >> 5) & 0x3F
    b5 = frame & 0x1F
    r = (r5 << 3) | (r5 >> 2)
    g = (g6 << 2) | (g6 >> 4)
    b = (b5 << 3) | (b5 >> 2)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def rgb888_to_rgb565(rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 -> (h, w) uint16 by truncating each channel (what a sensor delivers)."""
    rgb = rgb.astype(np.uint16)
    return ((rgb[..., 0] >> 3) << 11) | ((rgb[..., 1] >> 2) << 5) | (rgb[..., 2] >> 3)


def _bilinear_axis(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and Q8 weights along one axis, half-pixel centres:
    s = (d + 1/2) * src / dst - 1/2, clamped at 0, as exact fractions of 1 / (2 * dst)."""
    d = np.arange(dst, dtype=np.int64)
    pos = np.maximum((2 * d + 1) * src - dst, 0)
    den = 2 * dst
    i0 = pos // den
    frac = pos - i0 * den
    weight = (frac * 256 + den // 2) // den
    i1 = np.minimum(i0 + 1, src - 1)
    return i0, i1, weight


def resize_bilinear(rgb: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """(h, w, 3) uint8 -> (out_h, out_w, 3) uint8 with integer weights, rounded once at the end."""
    h, w, _ = rgb.shape
    y0, y1, wy = _bilinear_axis(h, out_h)
    x0, x1, wx = _bilinear_axis(w, out_w)
    img = rgb.astype(np.int64)
    wx = wx[None, :, None]
    wy = wy[:, None, None]
    top = img[y0][:, x0] * (256 - wx) + img[y0][:, x1] * wx
    bottom = img[y1][:, x0] * (256 - wx) + img[y1][:, x1] * wx
    return ((top * (256 - wy) + bottom * wy + (1 << 15)) >> 16).astype(np.uint8)


def quant_table(mean, std, scale: float, zero_point: int) -> np.ndarray:
    """(3, 256) int8: pixel value v of channel c as the model input's int8, for the float
    input (v / 255 - mean[c]) / std[c]; float64 from the float32 parameters, rounding
    half away from zero as trunc(y +- 0.5)."""
    v = np.arange(256, dtype=np.float64)
    mean = np.asarray(mean, dtype=F32).astype(np.float64)[:, None]
    std = np.asarray(std, dtype=F32).astype(np.float64)[:, None]
    y = ((v[None, :] / 255.0 - mean) / std) / float(F32(scale))
    y = np.clip(y, -1024.0, 1024.0)
    q = np.trunc(np.where(y >= 0, y + 0.5, y - 0.5)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def preprocess(frame: np.ndarray, out_h: int, out_w: int, table: np.ndarray) -> np.ndarray:
    """A frame ((h, w) uint16 RGB565 or (h, w, 3) uint8 RGB888) -> (out_h, out_w, 3) int8 model input."""
    rgb = rgb565_to_rgb888(frame) if frame.ndim == 2 else frame
    small = resize_bilinear(rgb, out_h, out_w)
    return table[np.arange(3)[None, None, :], small]


# ---------------------------------------------------------------- post-processing

@dataclass
class Head:
    grid_h: int
    grid_w: int
    stride: int
    anchors: np.ndarray  # (num_anchors, 2) w, h in model-input pixels
    scale: float
    zero_point: int


def load_anchor_sets(config_path: Path) -> dict[int, np.ndarray]:
    """detection_config.json: stride -> (3, 2) anchors (w, h)."""
    config = json.loads(Path(config_path).read_text())
    return {int(c["stride"]): np.asarray(c["anchors"], dtype=F32).reshape(-1, 2) for c in config.values()}


def heads_for_outputs(shapes, scales, zero_points, anchor_sets: dict[int, np.ndarray],
                      input_h: int, input_w: int) -> list[Head]:
    """Each output (1, gh, gw, C) gets the anchor set of its stride input_h / gh."""
    heads = []
    for shape, s, zp in zip(shapes, scales, zero_points):
        _, gh, gw, _ = shape
        stride = input_h // gh
        assert stride * gh == input_h and stride * gw == input_w, f"head {shape} does not tile the input"
        heads.append(Head(gh, gw, stride, anchor_sets[stride], float(F32(s)), int(zp)))
    return heads


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (F32(1) / (F32(1) + np.exp(-x))).astype(F32)


def _candidates(outputs, heads: list[Head], num_classes: int, input_h: int, input_w: int):
    """Every (head, cell, anchor, class) as rows x0, y0, x1, y1, score, class in model-input
    pixels (clipped to the input), in that enumeration order."""
    rows = []
    for out, head in zip(outputs, heads):
        na = head.anchors.shape[0]
        t = (out.reshape(head.grid_h, head.grid_w, na, 5 + num_classes).astype(np.int32) - head.zero_point)
        t = t.astype(F32) * F32(head.scale)
        gy, gx = np.meshgrid(np.arange(head.grid_h, dtype=F32), np.arange(head.grid_w, dtype=F32), indexing="ij")
        cx = (_sigmoid(t[..., 0]) + gx[..., None]) * F32(head.stride)
        cy = (_sigmoid(t[..., 1]) + gy[..., None]) * F32(head.stride)
        bw = np.exp(t[..., 2]) * head.anchors[:, 0]
        bh = np.exp(t[..., 3]) * head.anchors[:, 1]
        x0 = np.clip(cx - bw * F32(0.5), F32(0), F32(input_w))
        x1 = np.clip(cx + bw * F32(0.5), F32(0), F32(input_w))
        y0 = np.clip(cy - bh * F32(0.5), F32(0), F32(input_h))
        y1 = np.clip(cy + bh * F32(0.5), F32(0), F32(input_h))
        objectness = _sigmoid(t[..., 4])
        score = objectness[..., None] * _sigmoid(t[..., 5:])
        box = np.stack([x0, y0, x1, y1], axis=-1)  # (gh, gw, na, 4)
        box = np.broadcast_to(box[..., None, :], score.shape + (4,))
        cls = np.broadcast_to(np.arange(num_classes, dtype=F32), score.shape)
        rows.append(np.concatenate([box, score[..., None], cls[..., None]], axis=-1).reshape(-1, 6))
    return np.concatenate(rows).astype(F32)


def _iou(a: np.ndarray, b: np.ndarray) -> F32:
    iw = max(F32(0), min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(F32(0), min(a[3], b[3]) - max(a[1], b[1]))
    inter = F32(iw * ih)
    union = F32((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
    return F32(inter / union) if union > 0 else F32(0)


def decode(outputs, heads: list[Head], *, num_classes: int, input_h: int, input_w: int,
           frame_h: int, frame_w: int, score_threshold: float, iou_threshold: float,
           max_candidates: int, max_boxes: int) -> np.ndarray:
    """(n, 6) float32 rows x0, y0, x1, y1 (frame pixels), score, class, best score first."""
    cand = _candidates(outputs, heads, num_classes, input_h, input_w)
    cand = cand[cand[:, 4] >= F32(score_threshold)]
    order = np.argsort(-cand[:, 4], kind="stable")[:max_candidates]
    kept: list[np.ndarray] = []
    for row in cand[order]:
        if len(kept) == max_boxes:
            break
        if all(k[5] != row[5] or _iou(k, row) <= F32(iou_threshold) for k in kept):
            kept.append(row)
    result = np.array(kept, dtype=F32).reshape(-1, 6)
    sx = np.array([frame_w, frame_h, frame_w, frame_h], dtype=F32)
    div = np.array([input_w, input_h, input_w, input_h], dtype=F32)
    result[:, :4] = np.minimum(result[:, :4] * sx / div, sx)
    return result
