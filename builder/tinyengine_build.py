# PlatformIO extra script of the TinyEngine library. Kept thin: the logic lives in
# platformio_tinyengine.build_hook, which this library carries beside this folder.
import os
import subprocess
import sys

Import("env")  # noqa: F821  (provided by SCons)

# SCons runs this file without __file__; Dir(".") is the folder of the running SConscript.
_here = globals().get("__file__") or os.path.join(Dir(".").srcnode().abspath, "tinyengine_build.py")  # noqa: F821
LIBRARY_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(_here)))
REQUIREMENTS = ["tflite>=2.10", "flatbuffers>=23", "jinja2>=3.1", "pyyaml>=6", "numpy>=1.24", "click>=8.1", "rich>=13"]

if LIBRARY_ROOT not in sys.path:
    sys.path.insert(0, LIBRARY_ROOT)

try:
    from platformio_tinyengine import build_hook
except ImportError as missing:
    print(f"[tinyengine] installing the generator's dependencies into PlatformIO's Python ({missing.name} is missing)")
    if subprocess.call([sys.executable, "-m", "pip", "install", "-q", *REQUIREMENTS]) != 0:
        print("[tinyengine] ERROR: could not install " + " ".join(REQUIREMENTS) + " with pip; install them into "
              + sys.executable + " by hand")
        env.Exit(1)  # noqa: F821
    from platformio_tinyengine import build_hook

try:
    Import("projenv")  # noqa: F821
except Exception:
    projenv = None

build_hook.run(env, projenv)  # noqa: F821
