"""The OpenMV Cam H7 camera glue's pure parts, built for the host with -Werror
(examples/openmv_person_detection/src): the RGB565 byte swap and box drawing against NumPy,
and the camera configuration (the OV7725's register writes, the XCLK and SCCB timings)
decoded field by field as the OV7725 datasheet (Version 1.1, 2007: table 5, AC
characteristics; table 6, the register set) and RM0433 define them, and checked against those
documents' limits and against the frame size the DMA transfer is sized for.

The register driver itself (camera.c, sccb.c) touches STM32H743 registers and runs on no
host or QEMU machine: tests/test_openmv_example.py compiles and links it for the chip."""

from __future__ import annotations

import ctypes
import math
import subprocess

import numpy as np
import pytest

from platformio_tinyengine.firmware import WARNINGS
from platformio_tinyengine.resources import ROOT

SRC = ROOT / "examples" / "openmv_person_detection" / "src"
SOURCES = [SRC / "frame_rgb565.c", SRC / "openmv_h7" / "camera_config.c"]


class RegWrite(ctypes.Structure):
    _fields_ = [("reg", ctypes.c_uint8), ("value", ctypes.c_uint8)]


class Plan(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in (
        "hclk_hz", "xclk_period", "xclk_high", "sccb_presc", "sccb_scll", "sccb_sclh", "sccb_sdadel", "sccb_scldel",
        "width", "height", "frame_bytes")]


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    path = tmp_path_factory.mktemp("camera") / "libcamera.so"
    cmd = ["gcc", *WARNINGS, "-O2", "-fPIC", "-shared", "-I", str(SRC / "openmv_h7"), *map(str, SOURCES), "-lm",
           "-o", str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    library = ctypes.CDLL(str(path))
    library.rgb565_draw_box.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_float,
                                        ctypes.c_float, ctypes.c_float, ctypes.c_float, ctypes.c_int32,
                                        ctypes.c_uint16]
    library.rgb565_swap_bytes.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return library


# ---------------------------------------------------------------- frames

def test_swap_bytes_swaps_each_pixel(lib):
    rng = np.random.default_rng(0)
    for n in (0, 2, 6, 320 * 240 * 2):
        data = rng.integers(0, 256, n, dtype=np.uint8)
        buffer = data.copy()
        lib.rgb565_swap_bytes(buffer.ctypes.data, n)
        np.testing.assert_array_equal(buffer, data.reshape(-1, 2)[:, ::-1].reshape(-1))


def draw_reference(frame: np.ndarray, box: tuple[float, float, float, float], thickness: int, colour: int) -> None:
    """The outline as a mask over the box's pixels (frame_rgb565.h's rule), in float64 on the
    same float32 coordinates the C code receives."""
    x0, y0, x1, y1 = (float(np.float32(v)) for v in box)
    h, w = frame.shape
    if not (x0 <= x1 and y0 <= y1) or thickness <= 0:
        return
    left, right = math.floor(min(max(x0, 0.0), w)), math.ceil(min(max(x1, 0.0), w))
    top, bottom = math.floor(min(max(y0, 0.0), h)), math.ceil(min(max(y1, 0.0), h))
    if left >= right or top >= bottom:
        return
    mask = np.zeros((bottom - top, right - left), dtype=bool)
    mask[:thickness, :] = mask[-thickness:, :] = mask[:, :thickness] = mask[:, -thickness:] = True
    frame[top:bottom, left:right][mask] = colour


def random_boxes(rng: np.random.Generator, w: int, h: int, n: int):
    for _ in range(n):
        kind = rng.integers(0, 4)
        if kind == 0:    # inside, as te_detection gives them
            x0, x1 = np.sort(rng.uniform(0, w, 2))
            y0, y1 = np.sort(rng.uniform(0, h, 2))
        elif kind == 1:  # across or beyond the edges
            x0, x1 = np.sort(rng.uniform(-w, 2 * w, 2))
            y0, y1 = np.sort(rng.uniform(-h, 2 * h, 2))
        elif kind == 2:  # whole-pixel coordinates, thin boxes
            x0 = float(rng.integers(0, w)); x1 = x0 + float(rng.integers(0, 4))
            y0 = float(rng.integers(0, h)); y1 = y0 + float(rng.integers(0, 4))
        else:            # inverted
            x1, x0 = np.sort(rng.uniform(0, w, 2))
            y0, y1 = np.sort(rng.uniform(0, h, 2))
        yield (x0, y0, x1, y1), int(rng.integers(0, 6))


SPECIAL_BOXES = [((float("nan"), 0.0, 10.0, 10.0), 2), ((0.0, 0.0, float("inf"), float("inf")), 1),
                 ((-1e30, -1e30, 1e30, 1e30), 3), ((5.0, 5.0, 5.0, 5.0), 2), ((0.0, 0.0, 0.5, 0.5), 4),
                 ((319.5, 239.5, 320.0, 240.0), 1)]


def test_draw_box_matches_numpy(lib):
    rng = np.random.default_rng(1)
    w, h = 320, 240
    cases = [*random_boxes(rng, w, h, 300), *SPECIAL_BOXES]
    drawn = 0
    for box, thickness in cases:
        colour = int(rng.integers(0, 1 << 16))
        background = rng.integers(0, 1 << 16, (h, w)).astype("<u2")
        expected = background.copy()
        draw_reference(expected, box, thickness, colour)
        got = background.copy()
        lib.rgb565_draw_box(got.ctypes.data, w, h, *box, thickness, colour)
        np.testing.assert_array_equal(got, expected, err_msg=f"box {box} thickness {thickness}")
        drawn += int((expected != background).any())
    assert drawn > 100, "too few cases drew anything to test the outline"


# ---------------------------------------------------------------- the configuration

PLL = {0b00: 1, 0b01: 4, 0b10: 6, 0b11: 8}  # COM4 bits 7:6
# Read-only (PID, VER, MIDH, MIDL) and reserved (0x04) registers; the set ends at DSPAUTO (0xAC).
NOT_WRITABLE = {0x04, 0x0A, 0x0B, 0x1C, 0x1D}
LAST_REGISTER = 0xAC


@pytest.fixture(scope="module")
def table(lib) -> dict[int, int]:
    count = ctypes.c_uint32.in_dll(lib, "ov7725_qvga_rgb565_count").value
    writes = (RegWrite * count).in_dll(lib, "ov7725_qvga_rgb565")
    regs = [w.reg for w in writes]
    assert len(set(regs)) == len(regs), f"a register written twice (the last write wins): {regs}"
    return {w.reg: w.value for w in writes}


@pytest.fixture(scope="module")
def plan(lib) -> Plan:
    return Plan.in_dll(lib, "camera_config_plan")


def test_every_write_is_to_a_writable_register(table):
    assert not set(table) & NOT_WRITABLE
    assert max(table) <= LAST_REGISTER
    assert not table.get(0x12, 0) & 0x80, "COM7's reset bit in the table would undo the writes before it"


def test_the_table_selects_qvga_rgb565(table, plan):
    com7 = table[0x12]
    assert com7 & 0x03 == 0b10, "COM7[1:0]: RGB output"
    assert (com7 >> 2) & 0x03 == 0b01, "COM7[3:2]: RGB565"
    assert com7 & 0x40, "COM7[6]: QVGA"
    assert not com7 & 0x30, "COM7[5:4]: no BT.656, no raw sensor data"
    assert table[0x67] & 0x03 == 0, "DSP_CTRL4[1:0]: YUV/RGB output, not raw"


def test_window_and_output_size_are_the_frame_the_dma_expects(table, plan):
    href, exhch = table[0x32], table[0x2A]
    window = (table[0x18] << 2 | href & 0x03, table[0x1A] << 1 | (href >> 2) & 0x01)
    output = (table[0x29] << 2 | exhch & 0x03, table[0x2C] << 1 | (exhch >> 2) & 0x01)
    assert window == output == (plan.width, plan.height) == (320, 240)
    assert plan.frame_bytes == plan.width * plan.height * 2


def test_sync_polarities_are_the_ones_the_dcmi_is_set_for(table):
    # camera.c sets the DCMI for VSYNC high in blanking, HREF high on pixels, data stable on
    # PCLK's rising edge: COM10's inversions must all be off, HREF not turned into HSYNC, and
    # PCLK running through blanking (its masking is harmless, but not what the DCMI assumes).
    com10 = table[0x15]
    assert com10 & (0x02 | 0x08 | 0x10 | 0x40 | 0x20 | 0x80) == 0, hex(com10)
    assert table[0x0C] & 0x08 == 0, "COM3[3]: no MSB/LSB swap, camera.c swaps each pixel's bytes"


def test_automatic_exposure_gain_and_white_balance_are_on(table):
    assert table[0x13] & 0x07 == 0x07, "COM8: AEC, AWB and AGC"


def xclk_hz(plan: Plan) -> float:
    return plan.hclk_hz / plan.xclk_period


def pixel_clock_hz(table: dict[int, int], plan: Plan) -> float:
    clkrc = table[0x11]
    pll = PLL[table[0x0D] >> 6]
    divider = 1 if clkrc & 0x40 else 2 * ((clkrc & 0x3F) + 1)
    return xclk_hz(plan) * pll / divider


def test_xclk_is_in_the_sensors_input_range(plan):
    assert plan.hclk_hz == 64_000_000, "the reset clock (HSI); camera_config.h assumes no PLL"
    assert 10e6 <= xclk_hz(plan) <= 48e6, "table 5: f_CLK 10..48 MHz"
    assert 0.45 <= plan.xclk_high / plan.xclk_period <= 0.55, "table 5: duty cycle 45..55%"


def test_pixel_clock_fits_the_dcmi_and_the_dma(table, plan):
    pclk = pixel_clock_hz(table, plan)
    assert pclk == 8e6
    # RM0433 (DCMI clocks): the PIXCLK period must exceed 2.5 HCLK periods.
    assert pclk * 2.5 < plan.hclk_hz
    # One byte per PIXCLK, packed into words: at 8 MHz the DMA has 32 bus clocks a word. The
    # budget of at least 8 is this driver's margin for a DMA2 write through the AXI bus
    # matrix, not a figure from the manual.
    assert plan.hclk_hz / (pclk / 4) >= 8


def test_sccb_timing_meets_the_ov7725_and_the_i2c_fields(plan):
    for field, bits in (("sccb_presc", 4), ("sccb_scldel", 4), ("sccb_sdadel", 4), ("sccb_sclh", 8),
                        ("sccb_scll", 8)):
        assert getattr(plan, field) < 1 << bits, field
    # RM0433 (I2C timings): tPRESC = (PRESC + 1) / f_I2CCLK, tSCLL = (SCLL + 1) tPRESC, tSCLH
    # = (SCLH + 1) tPRESC, data hold SDADEL tPRESC, data set-up (SCLDEL + 1) tPRESC.
    t_presc = (plan.sccb_presc + 1) / plan.hclk_hz
    t_low, t_high = (plan.sccb_scll + 1) * t_presc, (plan.sccb_sclh + 1) * t_presc
    hold, setup = plan.sccb_sdadel * t_presc, (plan.sccb_scldel + 1) * t_presc
    assert t_low >= 1.3e-6 and t_high >= 0.6e-6, "table 5: t_LOW, t_HIGH"
    assert setup >= 100e-9, "table 5: t_SU:DAT"
    assert hold <= 3.45e-6, "the I2C standard-mode maximum data hold"
    assert 1 / (t_low + t_high) <= 400e3, "table 5: f_SCL at most 400 kHz"
