# SCons builder of the TinyEngine QEMU dev-platform: bare-metal firmware for the simulated
# Cortex-M boards, built with the GNU Arm toolchain on the PATH, with the start-up code,
# board support and linker script rendered from TinyEngine's src_templates/firmware/, and
# `pio run -t exec` running it under qemu-system-arm with semihosting.
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment  # pylint: disable=import-error

env = DefaultEnvironment()

# This platform ships inside the platformio_tinyengine package (platform/ beside its
# modules); offline-setup installs it by symlink, so its real path leads back there.
PACKAGE_ROOT = str(Path(os.path.realpath(env.PioPlatform().get_dir())).parent.parent)
if PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, PACKAGE_ROOT)

from platformio_tinyengine.pio_python import ensure_dependencies  # noqa: E402

ensure_dependencies(env)

from platformio_tinyengine import qemu  # noqa: E402
from platformio_tinyengine.boards import resolve_board  # noqa: E402
from platformio_tinyengine.build_hook import PREFIX, Options, arena_defines, generated_dir, scons_defines  # noqa: E402
from platformio_tinyengine.errors import TinyEngineError  # noqa: E402
from platformio_tinyengine.firmware import (  # noqa: E402
    ARENA_SECTION, ARM_TOOLCHAIN_PACKAGES, GCC, OPTIMIZATION, memory_layout, render_firmware, require_tool)

SUPPORT_SOURCES = ("startup.c", "te_firmware.c", "te_firmware.h")
BUILD_DIR = Path(env.subst("$BUILD_DIR"))
SUPPORT_DIR = BUILD_DIR / "tinyengine_board" / "src"
LDSCRIPT = BUILD_DIR / "tinyengine_board" / "linker.ld"


def fail(message):
    print(f"{PREFIX} ERROR: {message}")
    env.Exit(1)


def write_if_changed(path, text):
    """Unchanged files keep their time stamps, so SCons rebuilds nothing for them."""
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def arena_bytes():
    """The planned arena of the model the TinyEngine library generated for this build; 0
    for a project without it."""
    header = generated_dir(BUILD_DIR) / "genMemory.h"
    found = re.search(r"^#define TE_ARENA_BYTES (\d+)", header.read_text(), re.M) if header.is_file() else None
    return int(found.group(1)) if found else 0


def board_files(board, arena):
    return render_firmware(board, memory_layout(board, arena), model_name="", layers=0)


try:
    require_tool(GCC, ARM_TOOLCHAIN_PACKAGES)
    BOARD = resolve_board(env.subst("$BOARD"))
    qemu.machine_for(BOARD)
    # Start-up and board support do not depend on where the arena goes; the linker script
    # does, and is rendered once the model is generated (below).
    for name, text in board_files(BOARD, 0).items():
        if name in SUPPORT_SOURCES:
            write_if_changed(SUPPORT_DIR / name, text)
except TinyEngineError as exc:
    fail(exc)

machine_flags = BOARD.compiler_flags()
env.Replace(
    AR="arm-none-eabi-gcc-ar",
    AS="arm-none-eabi-as",
    CC=GCC,
    CXX="arm-none-eabi-g++",
    OBJCOPY="arm-none-eabi-objcopy",
    RANLIB="arm-none-eabi-gcc-ranlib",
    SIZETOOL="arm-none-eabi-size",
    ARFLAGS=["rc"],
    SIZEPROGREGEXP=r"^(?:\.vectors|\.text|\.rodata|\.ARM\.exidx|\.data)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss|%s)\s+(\d+).*" % re.escape(ARENA_SECTION),
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
    PROGNAME="firmware",
    PROGSUFFIX=".elf",
    LDSCRIPT_PATH=str(LDSCRIPT),
)
env.Append(
    ASFLAGS=machine_flags,
    ASPPFLAGS=["-x", "assembler-with-cpp"],
    CCFLAGS=machine_flags + [OPTIMIZATION, "-ffunction-sections", "-fdata-sections", "-Wall"],
    CFLAGS=["-std=c11"],
    CXXFLAGS=["-fno-rtti", "-fno-exceptions"],
    LINKFLAGS=machine_flags + ["-nostartfiles", "-Wl,--gc-sections"],
    LIBS=["m"],
    CPPPATH=[str(SUPPORT_DIR)],
)
# The linker script gives the arena its own section, in the RAM region chosen for its size;
# a project that names its own section (custom_tinyengine_arena_section) keeps it.
if not env.GetProjectOption("custom_tinyengine_arena_section", ""):
    env.Append(CPPDEFINES=scons_defines(arena_defines(Options(arena_section=ARENA_SECTION))))

env.BuildSources(str(SUPPORT_DIR.parent / "obj"), str(SUPPORT_DIR))

program = env.BuildProgram()

try:
    write_if_changed(LDSCRIPT, board_files(BOARD, arena_bytes())["linker.ld"])
except TinyEngineError as exc:
    fail(exc)
env.Depends(program, str(LDSCRIPT))


def run_on_qemu(target, source, env):  # pylint: disable=unused-argument
    """The firmware's semihosting output goes straight to the terminal; its exit status
    becomes the target's, so a failing firmware fails `pio run -t exec`."""
    if shutil.which(qemu.QEMU) is None:
        print(f"{PREFIX} ERROR: {qemu.QEMU} is not installed; on Debian: sudo apt-get install {qemu.QEMU_PACKAGE}")
        return 1
    cmd = qemu.qemu_command(Path(source[0].get_abspath()), BOARD)
    try:
        status = subprocess.call(cmd, timeout=qemu.DEFAULT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print(f"{PREFIX} ERROR: the firmware did not finish within {qemu.DEFAULT_TIMEOUT_S:g} s")
        return 1
    if status != 0:
        print(f"{PREFIX} ERROR: the firmware exited with status {status}")
    return status


AlwaysBuild(env.Alias("nobuild", program))
target_buildprog = env.Alias("buildprog", program, program)
target_size = env.AddPlatformTarget(
    "size", program, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE"), "Program Size",
    "Calculate program size")
env.AddPlatformTarget(
    "exec", program,
    env.VerboseAction(run_on_qemu, f"Running $SOURCE on QEMU {BOARD.qemu['machine']} ({BOARD.qemu['cpu']})"),
    "Execute", "Run the firmware under qemu-system-arm with semihosting")
Default([target_buildprog, target_size])
