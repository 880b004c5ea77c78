/* The OV7725's register writes for QVGA RGB565 and the clock plan (camera_config.h). Register
 * addresses and fields are those of the OV7725 datasheet's table 6. Only the format, size,
 * clock, sync and automatic-control registers are written: the image tuning of OmniVision's
 * application note (gamma, colour matrix, lens correction, de-noise), which OpenMV's driver
 * writes, is left at the sensor's defaults, so colours and contrast may differ from
 * OpenMV's; that was never compared on a camera. */
#include "camera_config.h"

_Static_assert(CAMERA_XCLK_HZ >= 10000000u && CAMERA_XCLK_HZ <= 48000000u, "XCLK outside the OV7725's 10-48 MHz");
_Static_assert(2u * CAMERA_XCLK_HIGH == CAMERA_XCLK_PERIOD, "XCLK duty cycle must be 50% (45-55% allowed)");

const ov7725_reg_write ov7725_qvga_rgb565[] = {
    /* COM4 (0x0D) bits 7:6 = 01: PLL x4 (its default, written so that the pixel clock does
     * not rest on it); bits 5:4 = 00: AEC over the full window; bits 3:0 keep their default. */
    {0x0D, 0x41},
    /* CLKRC (0x11): bit 7 reserved, kept at its default 1; bit 6 = 0: the prescaler is used;
     * bits 5:0 = 3: internal clock = XCLK / ((3 + 1) x 2) = 2 MHz, x4 by the PLL: 8 MHz PCLK. */
    {0x11, 0x83},
    /* COM7 (0x12): bit 6 = 1 QVGA; bits 3:2 = 01 RGB565; bits 1:0 = 10 RGB output. */
    {0x12, 0x46},
    /* COM3 (0x0C) = 0: no flip or mirror, no B/R swap, no MSB/LSB swap (the high byte, R and
     * the top of G, comes first: camera.c swaps each pixel's bytes), no colour bar. */
    {0x0C, 0x00},
    /* COM10 (0x15) = 0: PCLK always running; VSYNC high during vertical blanking, HREF high
     * during a line's pixels, data changing on PCLK's falling edge: the DCMI's VSPOL = 1,
     * HSPOL = 0, PCKPOL = 1 in camera.c. */
    {0x15, 0x00},
    /* The sensor window, QVGA: HSTART (0x17) and VSTART (0x19) are the 8 MSBs of the start
     * (HREF (0x32) bits 5:4 and 6 hold the LSBs, 0 here); HSIZE (0x18) = 320 >> 2 and VSIZE
     * (0x1A) = 240 >> 1 with their LSBs in HREF bits 1:0 and 2. The start values are the ones
     * OpenMV's driver uses for QVGA; the datasheet gives only VGA's defaults. */
    {0x17, 0x3F},
    {0x18, 0x50},
    {0x19, 0x03},
    {0x1A, 0x78},
    {0x32, 0x00},
    /* The output size: HOUTSIZE (0x29) = 320 >> 2, VOUTSIZE (0x2C) = 240 >> 1, their LSBs in
     * EXHCH (0x2A) bits 1:0 and 2 (bits 7:4 of EXHCH, dummy pixels, 0). */
    {0x29, 0x50},
    {0x2C, 0x78},
    {0x2A, 0x00},
    /* DSP_CTRL4 (0x67) bits 1:0 = 00: YUV/RGB output, not raw. */
    {0x67, 0x00},
    /* DSPAUTO (0xAC) = 0xFF: the DSP's automatic functions, among them the scaling factors
     * (bits 3:2) that follow the window. */
    {0xAC, 0xFF},
    /* COM8 (0x13) = 0xCF: fast AGC/AEC, unlimited AEC step, fine AEC, AGC, AWB and AEC on;
     * the banding filter off (bit 5), since its step (BDBASE) depends on the pixel clock. */
    {0x13, 0xCF},
};

const uint32_t ov7725_qvga_rgb565_count = sizeof(ov7725_qvga_rgb565) / sizeof(ov7725_qvga_rgb565[0]);

const camera_plan camera_config_plan = {
    .hclk_hz = CAMERA_HCLK_HZ,
    .xclk_period = CAMERA_XCLK_PERIOD,
    .xclk_high = CAMERA_XCLK_HIGH,
    .sccb_presc = SCCB_PRESC,
    .sccb_scll = SCCB_SCLL,
    .sccb_sclh = SCCB_SCLH,
    .sccb_sdadel = SCCB_SDADEL,
    .sccb_scldel = SCCB_SCLDEL,
    .width = CAMERA_WIDTH,
    .height = CAMERA_HEIGHT,
    .frame_bytes = CAMERA_FRAME_BYTES,
};
