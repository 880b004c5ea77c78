# PlatformIO extra script of the TinyEngine library. Kept thin: the logic lives in
# platformio_tinyengine.build_hook, which this library carries beside this folder.
import os
import sys

Import("env")  # noqa: F821  (provided by SCons)

# SCons runs this file without __file__; Dir(".") is the folder of the running SConscript.
_here = globals().get("__file__") or os.path.join(Dir(".").srcnode().abspath, "tinyengine_build.py")  # noqa: F821
LIBRARY_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(_here)))

if LIBRARY_ROOT not in sys.path:
    sys.path.insert(0, LIBRARY_ROOT)

from platformio_tinyengine.pio_python import ensure_dependencies  # noqa: E402

ensure_dependencies(env)  # noqa: F821

from platformio_tinyengine import build_hook  # noqa: E402

try:
    Import("projenv")  # noqa: F821
except Exception:
    projenv = None

build_hook.run(env, projenv)  # noqa: F821
