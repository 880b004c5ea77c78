"""`tinyengine offline-setup`: a PlatformIO core directory that builds and runs TinyEngine
projects for the simulated boards without PlatformIO's registry.

PlatformIO 6 runs every build with its core package tool-scons, which it would otherwise
download: here it is made from the scons module installed beside platformio. The QEMU
dev-platform that ships in this package is installed from its local path; it declares no
packages (it uses the GNU Arm toolchain and QEMU on the PATH), so nothing else is needed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import TinyEngineError
from .firmware import ARM_TOOLCHAIN_PACKAGES, GCC
from .qemu import QEMU, QEMU_PACKAGE

PLATFORM_DIR = Path(__file__).resolve().parent / "platform"
PLATFORM_URI = f"symlink://{PLATFORM_DIR}"
TOOL_SCONS = "tool-scons"
# What the dev-platform takes from the PATH instead of PlatformIO's registry.
TOOLS = {GCC: ARM_TOOLCHAIN_PACKAGES, QEMU: QEMU_PACKAGE}
SCONS_LAUNCHER = '''\
# Made by `tinyengine offline-setup` from the scons module of {python}.
# PlatformIO runs this file to build; SCons is the copy beside it.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import SCons.Script  # noqa: E402

SCons.Script.main()
'''


@dataclass(frozen=True)
class SetupResult:
    core_dir: Path
    scons_version: str
    tool_version: str
    tool_installed: bool  # False: an identical tool-scons was already there
    platform_dir: Path
    missing_tools: list[str]  # what building or running on the simulated boards still lacks


def default_core_dir() -> Path:
    """PlatformIO's own default: PLATFORMIO_CORE_DIR, else ~/.platformio."""
    return Path(os.environ.get("PLATFORMIO_CORE_DIR") or Path.home() / ".platformio")


def tool_version(scons_version: str) -> str:
    """PlatformIO's version of its tool-scons package for a SCons release: 4.11.1 -> 4.41101.0."""
    found = re.match(r"(\d+)\.(\d+)\.(\d+)", scons_version)
    if found is None:
        raise TinyEngineError(f"cannot read the installed scons version '{scons_version}'")
    major, minor, patch = (int(x) for x in found.groups())
    return f"{major}.{major}{minor:02d}{patch:02d}.0"


def scons_release(tool: str) -> str:
    """The SCons release of a tool-scons version: 4.41101.0 -> 4.11.1 (the inverse of tool_version)."""
    found = re.match(r"(\d+)\.(\d+)\.", tool)
    if found is None or not found.group(2).startswith(found.group(1)) or len(found.group(2)) < len(found.group(1)) + 3:
        return tool
    rest = found.group(2)[len(found.group(1)):]
    return f"{int(found.group(1))}.{int(rest[:-2])}.{int(rest[-2:])}"


def _modules():
    """platformio and SCons, as installed in this Python; one clear error when either is missing."""
    missing = []
    try:
        import platformio
    except ImportError:
        missing.append("platformio")
    try:
        import SCons
    except ImportError:
        missing.append("scons")
    if missing:
        raise TinyEngineError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed in "
                              f"{sys.executable}: pip install {' '.join(missing)}")
    return platformio, SCons


def _check_accepted(version: str, scons_version: str) -> None:
    import semantic_version
    from platformio import __version__ as pio_version
    from platformio.dependencies import get_core_dependencies

    wanted = get_core_dependencies()[TOOL_SCONS]
    if semantic_version.Version(version) not in semantic_version.SimpleSpec(wanted):
        release = scons_release(wanted.lstrip("~^=<>! "))
        raise TinyEngineError(f"PlatformIO {pio_version} needs {TOOL_SCONS} {wanted}, made from SCons {release}, "
                              f"but the installed scons is {scons_version}: pip install scons=={release}")


def install_tool_scons(packages_dir: Path, scons_module, python: str) -> tuple[str, bool]:
    """Installs tool-scons into packages_dir unless the same version is there; returns the
    package version and whether it installed."""
    from platformio.package.meta import PackageMetadata, PackageSpec, PackageType

    version = tool_version(scons_module.__version__)
    _check_accepted(version, scons_module.__version__)
    target = packages_dir / TOOL_SCONS
    try:
        installed = json.loads((target / "package.json").read_text()).get("version")
        complete = (target / ".piopm").is_file() and (target / "scons.py").is_file() \
            and (target / "SCons" / "__init__.py").is_file()
    except (OSError, ValueError):
        installed, complete = None, False
    if installed == version and complete:
        return version, False
    packages_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tinyengine-tool-scons-", dir=packages_dir))
    staging.chmod(0o755)  # mkdtemp makes it private; an installed package is not
    try:
        shutil.copytree(Path(scons_module.__file__).parent, staging / "SCons",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (staging / "scons.py").write_text(SCONS_LAUNCHER.format(python=python))
        (staging / "package.json").write_text(json.dumps({
            "name": TOOL_SCONS, "version": version,
            "description": f"SCons {scons_module.__version__}, made by tinyengine offline-setup from the installed "
                           "scons module", "keywords": ["build tools"], "license": "MIT"}, indent=2))
        # PlatformIO finds its core packages by owner and name: the owner must be platformio.
        PackageMetadata(PackageType.TOOL, TOOL_SCONS, version,
                        spec=PackageSpec(owner="platformio", name=TOOL_SCONS)).dump(str(staging / ".piopm"))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return version, True


def install_platform(core_dir: Path) -> None:
    """Installs the QEMU dev-platform by symlink to this package's copy, with PlatformIO's
    own command (the same link `platform = symlink://...` in platformio.ini refers to)."""
    cmd = [sys.executable, "-m", "platformio", "pkg", "install", "--global", "--platform", PLATFORM_URI]
    env = dict(os.environ, PLATFORMIO_CORE_DIR=str(core_dir))
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise TinyEngineError(f"installing the dev-platform {PLATFORM_DIR} failed: "
                              f"{(result.stderr or result.stdout).strip()[-2000:]}")


def offline_setup(core_dir: Path | None = None) -> SetupResult:
    _, scons_module = _modules()
    core_dir = Path(core_dir or default_core_dir()).expanduser().resolve()
    version, installed = install_tool_scons(core_dir / "packages", scons_module, sys.executable)
    install_platform(core_dir)
    missing = [f"{tool} (Debian: {package})" for tool, package in TOOLS.items() if shutil.which(tool) is None]
    return SetupResult(core_dir=core_dir, scons_version=scons_module.__version__, tool_version=version,
                       tool_installed=installed, platform_dir=PLATFORM_DIR, missing_tools=missing)
