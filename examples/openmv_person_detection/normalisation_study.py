"""Which float input does detection.tflite expect? Measures the detector under candidate
normalisations of 8-bit RGB pixels (README.md reports the result).

    .venv/bin/python examples/openmv_person_detection/normalisation_study.py SKIMAGE_DATA_DIR [MODEL]

SKIMAGE_DATA_DIR is a scikit-image wheel's `skimage/data` folder (0.26 was used): persons
from astronaut.png and camera.png are pasted at random places and sizes onto
person-free photos (grass, gravel, brick, rocket, coffee, chelsea: CC0 or public
domain), 120 scenes with a known box each, run through the demo's pipeline in NumPy
(tests/detection_reference.py) with TFLite's reference kernels; only the normalisation
differs. Reports the best box's IoU with the pasted person and its score, the best
score on the person-free photos, and what the demo (its thresholds) finds on the sample
frames of images/ (persons.json).
"""

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from platformio_tinyengine.pipeline import compile_model  # noqa: E402
from tests import detection_reference as ref  # noqa: E402
from tests.reference import run_reference  # noqa: E402

IMAGES = Path(__file__).resolve().parent / "images"
H, W = 128, 160
CANDIDATES = {
    "[0, 1]": ((0.0,) * 3, (1.0,) * 3),
    "[-1, 1]": ((0.5,) * 3, (0.5,) * 3),
    "ImageNet mean/std": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "[0, 255]": ((0.0,) * 3, (1 / 255,) * 3),
}
PERSONS = [("astronaut.png", (0.0, 0.02, 0.72, 1.0)), ("camera.png", (0.0, 0.12, 0.62, 1.0))]
BACKGROUNDS = ["grass.png", "gravel.png", "brick.png", "rocket.jpg", "coffee.png", "chelsea.png"]


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h)


def scenes(data: Path, count: int = 120):
    rng = np.random.default_rng(0)
    backgrounds = [Image.open(data / b).convert("RGB").resize((W, H), Image.BILINEAR) for b in BACKGROUNDS]
    crops = []
    for name, (a, b, c, d) in PERSONS:
        im = Image.open(data / name).convert("RGB")
        crops.append(im.crop((int(a * im.width), int(b * im.height), int(c * im.width), int(d * im.height))))
    result = []
    for k in range(count):
        scene, person = backgrounds[k % len(backgrounds)].copy(), crops[k % len(crops)]
        h = int(rng.integers(40, 120))
        w = min(150, int(person.width * h / person.height))
        x, y = int(rng.integers(0, W - w + 1)), int(rng.integers(0, H - h + 1))
        scene.paste(person.resize((w, h), Image.BILINEAR), (x, y))
        result.append((np.asarray(scene), (x, y, x + w, y + h)))
    return result, [np.asarray(b) for b in backgrounds]


def field_major(outputs: list[np.ndarray]) -> list[np.ndarray]:
    """The heads re-laid as if their 18 channels were field-major (tx of anchors 0-2, ty, ...)."""
    return [o.reshape(*o.shape[:-1], 6, 3).swapaxes(-1, -2).reshape(o.shape) for o in outputs]


def main(data: Path, model_path: Path) -> None:
    model = model_path.read_bytes()
    graph = compile_model(model).graph
    q_in = graph.inputs[0].quant
    heads = ref.heads_for_outputs([t.shape for t in graph.outputs], [float(t.quant.scale[0]) for t in graph.outputs],
                                  [int(t.quant.zero_point[0]) for t in graph.outputs],
                                  ref.load_anchor_sets(model_path.with_name("detection_config.json")), H, W)

    def decode(outputs, frame_h=H, frame_w=W, **settings) -> np.ndarray:
        s = dict(score_threshold=ref.DEMO_SCORE_THRESHOLD, iou_threshold=ref.DEMO_IOU_THRESHOLD,
                 max_candidates=ref.DEMO_MAX_CANDIDATES, max_boxes=ref.DEMO_MAX_BOXES)
        s.update(settings)
        return ref.decode(outputs, heads, num_classes=1, input_h=H, input_w=W, frame_h=frame_h, frame_w=frame_w, **s)

    def run(frame: np.ndarray, table: np.ndarray) -> list[np.ndarray]:
        """The demo's preprocessing in NumPy, the model with TFLite's reference kernels."""
        return run_reference(model, [ref.preprocess(frame, H, W, table)[None]])

    def best(outputs) -> np.ndarray:
        return decode(outputs, score_threshold=0.0, max_candidates=1, max_boxes=1)[0]

    samples = json.loads((IMAGES / "persons.json").read_text())
    frames = {name: ref.load_frame(IMAGES / name) for name in samples}
    pasted, empty = scenes(data)
    noise = [np.random.default_rng(k).integers(0, 256, (H, W, 3), dtype=np.uint8) for k in range(10)]

    print("Normalisation of 8-bit RGB: best box on 120 scenes with one pasted person (IoU, share with IoU > 0.5, "
          "score), best score on 6 photos without people, and the demo's boxes on the sample frames.")
    print(f"{'input':20s} {'IoU':>6s} {'>0.5':>5s} {'score':>6s} {'no person':>9s}  sample frames")
    for label, (mean, std) in CANDIDATES.items():
        table = ref.quant_table(mean, std, float(q_in.scale[0]), int(q_in.zero_point[0]))
        boxes = [best(run(rgb, table)) for rgb, _ in pasted]
        ious = np.array([iou(b[:4], gt) for b, (_, gt) in zip(boxes, pasted)])
        background = np.mean([best(run(rgb, table))[4] for rgb in empty])
        found = false = 0
        for name, frame in frames.items():
            persons, got = samples[name]["persons"], decode(run(frame, table), *frame.shape[:2])
            found += sum(any(iou(p, b[:4]) >= 0.5 for b in got) for p in persons)
            false += sum(all(iou(p, b[:4]) < 0.5 for p in persons) for b in got)
        total = sum(len(v["persons"]) for v in samples.values())
        print(f"{label:20s} {ious.mean():6.3f} {np.mean(ious > 0.5):5.2f} {np.mean([b[4] for b in boxes]):6.3f} "
              f"{background:9.3f}  {found} of {total} persons found, {false} false boxes")

    table = ref.quant_table(ref.DEMO_MEAN, ref.DEMO_STD, float(q_in.scale[0]), int(q_in.zero_point[0]))
    outputs = [run(rgb, table) for rgb in [*(p for p, _ in pasted), *empty, *noise]]
    print(f"\nHead layout, over {len(outputs)} frames (scenes, photos without people, noise) with the demo's input:")
    for i, h in enumerate(heads):
        t = np.concatenate([o[i].reshape(-1, 18) for o in outputs]).astype(np.float64)
        means = ((t - h.zero_point) * h.scale).mean(axis=0).reshape(3, 6)
        print(f"stride {h.stride:2d}, mean of channels (rows: groups of 6):\n{np.array2string(means, precision=2, suppress_small=True)}")
    for label, relaid in [("anchor-major", lambda o: o), ("field-major", field_major)]:
        boxes = [decode(relaid(o), max_candidates=2000, max_boxes=2000, iou_threshold=1.0) for o in outputs]
        found = np.mean([iou(best(relaid(o))[:4], gt) for o, (_, gt) in zip(outputs, pasted)])
        print(f"read {label}: {np.mean([len(b) for b in boxes]):.1f} boxes >= {ref.DEMO_SCORE_THRESHOLD} per frame "
              f"before suppression; best box on the pasted person: mean IoU {found:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT.parent / "shared" / "models" /
         "detection.tflite")
