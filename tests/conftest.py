import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_MODELS = Path(os.environ.get("TINYENGINE_MODELS", ROOT.parent / "shared" / "models"))


def shared_models() -> list[Path]:
    if not SHARED_MODELS.is_dir():
        return []
    return sorted(SHARED_MODELS.rglob("*.tflite"))


def model_id(path: Path) -> str:
    return str(path.relative_to(SHARED_MODELS))


requires_shared_models = pytest.mark.skipif(
    not SHARED_MODELS.is_dir(),
    reason=f"the shared model collection is not at {SHARED_MODELS} (set TINYENGINE_MODELS to point at it)")

requires_arm_gcc = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None,
    reason="arm-none-eabi-gcc is not installed (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi)")
