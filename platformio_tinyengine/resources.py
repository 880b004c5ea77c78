"""Where the templates and the C library live: beside the package in a checkout."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "src_templates"
C_LIBRARY_DIR = ROOT / "TinyEngine"
C_INCLUDE_DIR = C_LIBRARY_DIR / "include"
C_SOURCE_DIR = C_LIBRARY_DIR / "src"
BOARDS_DIR = ROOT / "boards"
