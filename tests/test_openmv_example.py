"""examples/openmv_person_detection as a user runs it: `pio run -e qemu_cortex_m7 -t exec` in
the example's own folder (build output redirected to a temporary workspace), the boxes it
prints for each sample frame compared with the same pipeline in Python: NumPy
preprocessing, TFLite's reference kernels, NumPy post-processing (tests/detection_reference.py).
The OpenMV environment needs PlatformIO's ststm32, which cannot be installed here: its
sources (main.c without sample frames, the pipeline, the generated model, the board
support its pre-script renders) are built and linked for the STM32H743 with arm-none-eabi-gcc."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from platformio_tinyengine import firmware
from platformio_tinyengine.boards import find_board
from platformio_tinyengine.build_hook import Options, arena_defines
from platformio_tinyengine.pipeline import compile_model
from platformio_tinyengine.project import board_support
from platformio_tinyengine.resources import C_INCLUDE_DIR, ROOT
from tests import detection_reference as ref
from tests.conftest import SHARED_MODELS, requires_arm_gcc
from tests.reference import run_reference
from tests.test_platformio import PIO, TINYENGINE, log_of, pio_env, run  # noqa: F401  (pio_env: a fixture)
from tests.test_real_board_firmware import PLATFORMIO_BARE_LINK, check_elf, region_of, symbols, tool

EXAMPLE = ROOT / "examples" / "openmv_person_detection"
MODEL = SHARED_MODELS / "detection.tflite"
CONFIG = SHARED_MODELS / "detection_config.json"
# Where platformio.ini's custom_tinyengine_model points.
INI_MODEL = (EXAMPLE / "../../../shared/models/detection.tflite").resolve()
FRAMES = json.loads((EXAMPLE / "images" / "persons.json").read_text())

requires_model = pytest.mark.skipif(not MODEL.is_file(), reason=f"{MODEL} is absent (the shared model collection)")

FRAME_LINE = re.compile(r"^frame (\S+) (\d+)x(\d+): (\d+) boxes$")
BOX_LINE = re.compile(r"^box (\d+): x0 (\S+) y0 (\S+) x1 (\S+) y1 (\S+) score (\S+) class (\d+)$")
CYCLES_LINE = re.compile(r"^cycles: (\d+)$")


def parse(log: str) -> dict[str, tuple[np.ndarray, int]]:
    """frame name -> (boxes as rows x0 y0 x1 y1 score class, count printed)."""
    frames, name = {}, None
    for line in log.splitlines():
        line = line.strip()
        if m := FRAME_LINE.match(line):
            name = m.group(1)
            frames[name] = ([], None)
        elif (m := BOX_LINE.match(line)) and name is not None:
            frames[name][0].append([float(v) for v in m.groups()[1:6]] + [int(m.group(7))])
        elif (m := CYCLES_LINE.match(line)) and name is not None:
            frames[name] = (frames[name][0], int(m.group(1)))
            name = None
    return {k: (np.array(boxes, dtype=np.float64).reshape(-1, 6), count) for k, (boxes, count) in frames.items()}


def python_pipeline(frame: np.ndarray) -> np.ndarray:
    model = MODEL.read_bytes()
    graph = compile_model(MODEL).graph
    (_, h, w, _), = [t.shape for t in graph.inputs]
    q = graph.inputs[0].quant
    table = ref.quant_table(ref.DEMO_MEAN, ref.DEMO_STD, float(q.scale[0]), int(q.zero_point[0]))
    heads = ref.heads_for_outputs([t.shape for t in graph.outputs], [float(t.quant.scale[0]) for t in graph.outputs],
                                  [int(t.quant.zero_point[0]) for t in graph.outputs], ref.load_anchor_sets(CONFIG),
                                  h, w)
    outputs = run_reference(model, [ref.preprocess(frame, h, w, table)[None]])
    return ref.decode(outputs, heads, num_classes=1, input_h=h, input_w=w, frame_h=frame.shape[0],
                      frame_w=frame.shape[1], score_threshold=ref.DEMO_SCORE_THRESHOLD,
                      iou_threshold=ref.DEMO_IOU_THRESHOLD, max_candidates=ref.DEMO_MAX_CANDIDATES,
                      max_boxes=ref.DEMO_MAX_BOXES)


@requires_model
@pytest.mark.skipif(MODEL.resolve() != INI_MODEL,
                    reason=f"the example's platformio.ini takes the model from {INI_MODEL}, not {MODEL}")
def test_simulated_board_prints_the_boxes_of_the_python_pipeline(pio_env, tmp_path):
    env = dict(pio_env, PLATFORMIO_WORKSPACE_DIR=str(tmp_path / "workspace"))
    result = run([*PIO, "run", "-e", "qemu_cortex_m7", "-t", "exec"], cwd=EXAMPLE, env=env)
    log = log_of(result)
    assert result.returncode == 0, log[-4000:]
    printed = parse(log)
    assert sorted(printed) == sorted(FRAMES)
    for name, info in FRAMES.items():
        got, count = printed[name]
        assert count is not None and count > 0, f"{name}: no instruction count"
        expected = python_pipeline(ref.load_frame(EXAMPLE / "images" / name))
        assert got.shape == expected.shape, f"{name}: {len(got)} boxes, the reference has {len(expected)}"
        np.testing.assert_array_equal(got[:, 5], expected[:, 5], err_msg=f"{name}: classes")
        # Six decimals printed from float32 values of up to a few hundred.
        np.testing.assert_allclose(got[:, :5], expected[:, :5], rtol=1e-3, atol=1e-4, err_msg=name)
        assert len(got) >= len(info["persons"]), f"{name}: fewer boxes than marked persons"
    assert not (EXAMPLE / ".pio").exists(), "the build wrote into the example's folder"


def test_board_json_agrees_with_the_board_file():
    manifest = json.loads((EXAMPLE / "boards" / "openmv_cam_h7.json").read_text())
    board = find_board("openmv_cam_h7")
    assert manifest["build"]["cpu"] == board.core
    assert manifest["build"]["mcu"] == board.mcu
    assert manifest["upload"]["maximum_size"] == board.flash_bytes
    assert manifest["upload"]["maximum_ram_size"] == board.largest_ram.bytes


@requires_arm_gcc
@requires_model
def test_openmv_sources_link_for_the_stm32h743(tmp_path):
    board = find_board("openmv_cam_h7")
    gen = tmp_path / "gen"
    result = run([*TINYENGINE, "generate", str(MODEL), "--out", str(gen)])
    assert result.returncode == 0, log_of(result)
    support = tmp_path / "support"
    for name, text in board_support(board, None).items():
        (support / name).parent.mkdir(parents=True, exist_ok=True)
        (support / name).write_text(text)
    flags = firmware.compiler_flags(board)
    defines = [f"-D{name}={value}" for name, value in arena_defines(Options(arena_section=firmware.ARENA_SECTION))]
    # Every C file under src/ (platformio.ini's filter for this environment), the camera's
    # driver in src/openmv_h7/ among them.
    sources = [*sorted((EXAMPLE / "src").rglob("*.c")), EXAMPLE / "person_detector.c", *sorted(gen.glob("*.c")),
               *sorted((support / "src").glob("*.c"))]
    objects = [tmp_path / f"{i}_{s.stem}.o" for i, s in enumerate(sources)]
    firmware._compile_all([tool("arm-none-eabi-gcc"), *flags, *defines, "-I", str(C_INCLUDE_DIR), "-I", str(gen),
                           "-I", str(support / "src"), "-I", str(EXAMPLE)], sources, objects)
    elf = tmp_path / "openmv.elf"
    link = subprocess.run([tool("arm-none-eabi-gcc"), *board.compiler_flags(), *PLATFORMIO_BARE_LINK,
                           "-T", str(support / "linker.ld"), *map(str, objects),
                           *map(str, firmware.library_objects(flags)), "-lm", "-o", str(elf)],
                          capture_output=True, text=True)
    assert link.returncode == 0, link.stderr
    arena = compile_model(MODEL).plan.arena_bytes
    layout = firmware.real_board_layout(board, None)
    assert layout.arena == "AXI_SRAM" == firmware.real_board_layout(board, arena).arena
    check_elf(elf, board, layout, arena)
    # The camera's DMA (DMA2) cannot reach the DTCM: the frame buffer must be in the AXI SRAM,
    # on a cache line (camera.c).
    frame = symbols(elf)["frame_buffer"]
    assert region_of(board, frame, 320 * 240 * 2) == "AXI_SRAM" and frame % 32 == 0, hex(frame)
