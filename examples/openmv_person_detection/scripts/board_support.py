# PlatformIO pre-script for the OpenMV Cam H7: ststm32 without a framework brings no start-up
# code or linker script, so TinyEngine renders them for the board (the same files
# `tinyengine new --board openmv_cam_h7` writes into a project: startup.c, te_firmware.c/.h
# with USART3 output and the DWT cycle counter, linker.ld) into the build directory.
# The arena is not known before the model is generated: it goes to the largest RAM (AXI
# SRAM, 512 KB; detection.tflite needs 164 KB, more than the 128 KB DTCM holds).
import os
import sys

Import("env")  # noqa: F821  (SCons)

ROOT = os.path.realpath(os.path.join(env.subst("$PROJECT_DIR"), "..", ".."))  # noqa: F821
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
from platformio_tinyengine.pio_python import ensure_dependencies  # noqa: E402

ensure_dependencies(env)  # noqa: F821

from platformio_tinyengine.boards import resolve_board  # noqa: E402
from platformio_tinyengine.project import board_support  # noqa: E402

OUT = os.path.join(env.subst("$BUILD_DIR"), "board_support")  # noqa: F821
for name, text in board_support(resolve_board(env.subst("$BOARD")), None).items():  # noqa: F821
    path = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.isfile(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)
env.Replace(LDSCRIPT_PATH=os.path.join(OUT, "linker.ld"))  # noqa: F821
env.Append(CPPPATH=[os.path.join(OUT, "src")])  # noqa: F821
env.BuildSources(os.path.join("$BUILD_DIR", "board_support_obj"), os.path.join(OUT, "src"))  # noqa: F821
