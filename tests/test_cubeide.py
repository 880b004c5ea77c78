"""`tinyengine new --ide stm32cubeide`: the generated .project and .cproject parse, name only
sources and include paths that exist in the project, carry the board's MCU, FPU and float
ABI, and the sources they list build and link with arm-none-eabi-gcc for that MCU, with
the flags read back from the .cproject and the linker script it names."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from platformio_tinyengine import cubeide, firmware
from platformio_tinyengine.boards import find_board
from tests.conftest import SHARED_MODELS, requires_arm_gcc
from tests.test_real_board_firmware import PLATFORMIO_BARE_LINK, check_elf, tool

TINYENGINE = [sys.executable, "-m", "platformio_tinyengine.cli"]
ST = cubeide.ST
MODELS = {"nucleo_h743zi": "vww.tflite", "disco_f746ng": "vww.tflite", "nucleo_f411re": "tflm_person_detect.tflite"}


def new_cubeide(directory: Path, board: str, model: Path | None) -> subprocess.CompletedProcess:
    cmd = [*TINYENGINE, "new", str(directory), "--ide", "stm32cubeide", "--board", board]
    return subprocess.run(cmd + (["--model", str(model)] if model else []), capture_output=True, text=True)


class CProject:
    """What a build needs from one configuration of a .cproject."""

    def __init__(self, path: Path, configuration: str = "Debug"):
        root = ET.parse(path).getroot()
        configs = [c for c in root.iter("configuration") if c.get("name") == configuration and c.get("parent")]
        assert len(configs) == 1, f"one {configuration} configuration expected"
        self.config = configs[0]

    def option(self, superclass: str) -> ET.Element:
        found = [o for o in self.config.iter("option") if o.get("superClass") == f"{ST}.{superclass}"]
        assert len(found) == 1, superclass
        return found[0]

    def value(self, superclass: str) -> str:
        return self.option(superclass).get("value")

    def values(self, superclass: str) -> list[str]:
        return [v.get("value") for v in self.option(superclass).iter("listOptionValue")]

    @property
    def source_entries(self) -> list[str]:
        return [e.get("name") for e in self.config.iter("entry") if e.get("kind") == "sourcePath"]


def build_from_cproject(project: Path, board, work: Path) -> Path:
    """Every .c file under the .cproject's source folders, with its defines, include paths,
    FPU and float ABI, linked with its linker script."""
    cp = CProject(project / ".cproject")
    fpu = cp.value("option.fpu").rsplit(".value.", 1)[1]
    abi = cp.value("option.floatabi").rsplit(".value.", 1)[1]
    level = cp.value("tool.c.compiler.option.optimization.level").rsplit(".value.", 1)[1]
    # The build runs in the configuration's folder, so "../X" is project/X.
    includes = [f"-I{project / p.removeprefix('../')}" for p in cp.values("tool.c.compiler.option.includepaths")]
    defines = [f"-D{d}" for d in cp.values("tool.c.compiler.option.definedsymbols")]
    machine = [f"-mcpu={board.core}", "-mthumb", f"-mfpu={fpu}", f"-mfloat-abi={abi}"]
    sources = sorted(s for entry in cp.source_entries for s in (project / entry).rglob("*.c"))
    assert sources
    objects = [work / f"{i}_{s.stem}.o" for i, s in enumerate(sources)]
    firmware._compile_all([tool("arm-none-eabi-gcc"), *machine, f"-{level.upper()}", "-std=c11", "-Wall", "-Wextra",
                           "-Werror", "-ffunction-sections", "-fdata-sections", *defines, *includes],
                          sources, objects)
    script = cp.value("tool.c.linker.option.script").replace("${workspace_loc:/${ProjName}/", "").rstrip("}")
    elf = work / "cubeide.elf"
    result = subprocess.run([tool("arm-none-eabi-gcc"), *machine, *PLATFORMIO_BARE_LINK, "-T", str(project / script),
                             *map(str, objects), "-lm", "-o", str(elf)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return elf


@pytest.fixture
def model_for():
    def get(board_id: str) -> Path:
        path = SHARED_MODELS / MODELS[board_id]
        if not path.is_file():
            pytest.skip(f"{path} is absent (the shared model collection)")
        return path
    return get


@pytest.mark.parametrize("board_id", sorted(MODELS))
def test_project_files_name_what_exists_and_match_the_board(board_id, model_for, tmp_path):
    board = find_board(board_id)
    project = tmp_path / "my cube project"
    result = new_cubeide(project, board_id, model_for(board_id))
    assert result.returncode == 0, result.stderr
    description = ET.parse(project / ".project").getroot()
    assert description.findtext("name") == "my cube project"
    natures = [n.text for n in description.iter("nature")]
    assert "org.eclipse.cdt.core.cnature" in natures and "com.st.stm32cube.ide.mcu.MCUProjectNature" in natures
    for name in ("Debug", "Release"):
        cp = CProject(project / ".cproject", name)
        assert cp.value("option.target_mcu") == cubeide.target_mcu(board)
        assert cp.value("option.target_mcu").startswith(board.mcu.upper()[:11])
        assert cp.value("option.fpu") == f"{ST}.option.fpu.value.{board.fpu}"
        assert cp.value("option.floatabi") == f"{ST}.option.floatabi.value.{board.float_abi}"
        for path in cp.values("tool.c.compiler.option.includepaths"):
            assert (project / path.removeprefix("../")).is_dir(), f"include path {path} is not in the project"
        assert cp.source_entries
        for entry in cp.source_entries:
            assert list((project / entry).rglob("*.c")), f"source folder {entry} holds no C file"
        script = cp.value("tool.c.linker.option.script")
        assert (project / script.replace("${workspace_loc:/${ProjName}/", "").rstrip("}")).is_file()
    # The model's C and every library source are there.
    assert {p.name for p in (project / "Model").iterdir()} == {"genModel.c", "genModel.h", "genMemory.h"}
    library = {p.relative_to(firmware.C_SOURCE_DIR) for p in firmware.C_SOURCE_DIR.rglob("*.c")}
    assert library == {p.relative_to(project / "TinyEngine" / "src") for p in (project / "TinyEngine" / "src").rglob("*.c")}
    readme = (project / "README.md").read_text()
    assert cubeide.CUBEIDE_VERSIONS in readme and "nothing has run on hardware" in readme


@requires_arm_gcc
@pytest.mark.parametrize("board_id", sorted(MODELS))
def test_the_listed_sources_build_and_link_for_the_mcu(board_id, model_for, tmp_path):
    board = find_board(board_id)
    model = model_for(board_id)
    project = tmp_path / "project"
    assert new_cubeide(project, board_id, model).returncode == 0
    elf = build_from_cproject(project, board, tmp_path)
    from platformio_tinyengine.pipeline import compile_model
    arena = compile_model(model).plan.arena_bytes
    check_elf(elf, board, firmware.real_board_layout(board, arena), arena)


def test_refusals_are_clear(tmp_path, model_for):
    cases = [
        ("qemu_cortex_m7", model_for("nucleo_h743zi"), "simulated board"),
        ("nucleo_h743zi", None, "needs --model"),
        ("nucleo_h743zi", tmp_path / "none.tflite", "no such file"),
    ]
    for i, (board, model, message) in enumerate(cases):
        result = new_cubeide(tmp_path / f"p{i}", board, model)
        assert result.returncode != 0
        assert message in result.stdout + result.stderr
