"""Makes the generator usable from PlatformIO's own Python, which runs the library's extra
script (builder/tinyengine_build.py) and the QEMU dev-platform's builder, and is not the
user's Python: missing dependencies are installed into it with pip on first use, with a
message, the way nanopb's PlatformIO generator does it. Standard library only, so it can
run before those dependencies exist."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys

REQUIREMENTS = ["tflite>=2.10", "flatbuffers>=23", "jinja2>=3.1", "pyyaml>=6", "numpy>=1.24", "click>=8.1",
                "rich>=13"]
MODULES = ("tflite", "flatbuffers", "jinja2", "yaml", "numpy", "click", "rich")


def ensure_dependencies(env) -> None:
    """Installs what is missing, or ends the build (env.Exit) with one message."""
    missing = [name for name in MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return
    print(f"[tinyengine] installing the generator's dependencies into PlatformIO's Python {sys.executable} "
          f"({', '.join(missing)} missing)")
    if subprocess.call([sys.executable, "-m", "pip", "install", "-q", *REQUIREMENTS]) != 0:
        print("[tinyengine] ERROR: could not install " + " ".join(REQUIREMENTS) + " with pip; install them into "
              + sys.executable + " by hand")
        env.Exit(1)
    importlib.invalidate_caches()
