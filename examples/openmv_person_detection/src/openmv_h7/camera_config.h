/* The OpenMV Cam H7's camera set-up as numbers, without register access: the clocks the
 * STM32H743 runs the sensor at, and the OV7725's register writes for QVGA RGB565. camera.c
 * applies them; tests/test_openmv_camera.py checks them, built for the host, against the
 * limits of the OV7725 datasheet (Version 1.1, March 30, 2007: table 5, AC characteristics;
 * table 6, the register set) and of RM0433.
 *
 * Clocks: the chip stays on its reset clock, HSI at 64 MHz for the core, the buses, TIM1 and
 * I2C1 (RM0433 chapter 8). No PLL is needed for the camera: TIM1 divides 64 MHz by 4 into a
 * 16 MHz XCLK, inside the OV7725's 10-48 MHz input range, where OpenMV's firmware gives it
 * 12 MHz from a 480 MHz system clock. The sensor's own PLL and prescaler then make a pixel
 * clock of 8 MHz, which the DCMI and DMA at 64 MHz keep up with (OpenMV runs 48 MHz at a
 * 480 MHz system clock; the DCMI needs HCLK above 2.5 PIXCLK). The USART3 output that
 * TinyEngine's board support sets up for 64 MHz keeps working unchanged. */
#ifndef OPENMV_H7_CAMERA_CONFIG_H
#define OPENMV_H7_CAMERA_CONFIG_H

#include <stdint.h>

/* QVGA: the OV7725's sub-sampled mode (COM7 bit 6), 2:1 from its 640x480 array. */
#define CAMERA_WIDTH 320
#define CAMERA_HEIGHT 240
#define CAMERA_FRAME_BYTES (CAMERA_WIDTH * CAMERA_HEIGHT * 2)

/* HSI after reset: core (the DWT counter), AHB (DCMI, DMA), APB1 (I2C1) and APB2 timers. */
#define CAMERA_HCLK_HZ 64000000u
/* DWT cycle counter ticks (te_counter_read(), core clock) in `ms` milliseconds. */
#define CAMERA_MS_TICKS(ms) ((uint64_t)(ms) * (CAMERA_HCLK_HZ / 1000u))
/* TIM1 counts 0..3 and channel 1 is high for 2 of the 4 counts: 16 MHz, 50% duty. */
#define CAMERA_XCLK_PERIOD 4u
#define CAMERA_XCLK_HIGH 2u
#define CAMERA_XCLK_HZ (CAMERA_HCLK_HZ / CAMERA_XCLK_PERIOD)

/* SCCB on I2C1, standard-mode timing from the 64 MHz kernel clock (RM0433 chapter 47, "I2C
 * timings"): tPRESC = (PRESC + 1) / 64 MHz = 250 ns; SCL low (SCLL + 1) tPRESC = 5 us, high
 * (SCLH + 1) tPRESC = 4 us, data hold SDADEL tPRESC = 500 ns, data set-up (SCLDEL + 1) tPRESC
 * = 1.25 us: about 100 kHz, a quarter of the OV7725's 400 kHz. */
#define SCCB_PRESC 15u
#define SCCB_SCLL 19u
#define SCCB_SCLH 15u
#define SCCB_SDADEL 2u
#define SCCB_SCLDEL 4u

/* OV7725 (datasheet table 6): SCCB address 0x42 to write, 0x43 to read (7-bit 0x21); product
 * ID PID (0x0A) = 0x77, VER (0x0B) = 0x21; COM7 (0x12) bit 7 resets every register. */
#define OV7725_SCCB_ADDRESS 0x21u
#define OV7725_REG_PID 0x0Au
#define OV7725_REG_VER 0x0Bu
#define OV7725_PID 0x77u
#define OV7725_VER 0x21u
#define OV7725_REG_COM7 0x12u
#define OV7725_COM7_RESET 0x80u
/* Table 5: 1 ms to settle after a reset, 300 ms (10 frames) after a register change. */
#define OV7725_RESET_SETTLE_MS 1u
#define OV7725_REGISTER_SETTLE_MS 300u

/* The OV5640 of the OpenMV Cam H7 Plus answers at 7-bit address 0x3C, with 16-bit register
 * addresses and its ID 0x5640 in 0x300A/0x300B. This driver recognises it to say so; it does
 * not drive it. */
#define OV5640_SCCB_ADDRESS 0x3Cu
#define OV5640_REG_CHIP_ID_HIGH 0x300Au
#define OV5640_REG_CHIP_ID_LOW 0x300Bu
#define OV5640_CHIP_ID 0x5640u

typedef struct {
    uint8_t reg;
    uint8_t value;
} ov7725_reg_write;

/* After the COM7 reset: QVGA, RGB565, the pixel clock above, the sync polarities camera.c
 * gives the DCMI, automatic exposure, gain and white balance (camera_config.c says why each). */
extern const ov7725_reg_write ov7725_qvga_rgb565[];
extern const uint32_t ov7725_qvga_rgb565_count;

/* The numbers above for the host tests, which cannot see macros. */
typedef struct {
    uint32_t hclk_hz;
    uint32_t xclk_period, xclk_high;
    uint32_t sccb_presc, sccb_scll, sccb_sclh, sccb_sdadel, sccb_scldel;
    uint32_t width, height, frame_bytes;
} camera_plan;

extern const camera_plan camera_config_plan;

#endif
