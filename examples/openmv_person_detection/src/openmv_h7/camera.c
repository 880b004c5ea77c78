/* The OV7725 on the OpenMV Cam H7, register by register, with no HAL. Pins and peripherals
 * are those of OpenMV's board config for this camera (boards/OPENMV4/omv_boardconfig.h):
 * XCLK on PA8 from TIM1 channel 1; SCCB on I2C1 (sccb.c); sensor RESET on PA10 and PWDN on
 * PD7; DCMI D0..D7 on PC6 PC7 PE0 PE1 PE4 PB6 PE5 PE6, HSYNC PA4, VSYNC PB7, PIXCLK PA6;
 * frames through DMA2 stream 1. Register facts: stm32h743.h; the sensor's: camera_config.c.
 * Not run on a camera. */
#include "camera.h"

#include <stddef.h>

#include "../frame_rgb565.h"
#include "sccb.h"
#include "stm32h743.h"
#include "te_firmware.h"

/* DMA1/2 cannot reach the DTCM, where .bss lives (RM0433 chapter 2, bus matrix: the DTCM
 * is the core's and the MDMA's only), so the frame goes with the model's arena into the AXI
 * SRAM: the build defines TE_ARENA_ATTRIBUTES from platformio.ini's
 * custom_tinyengine_arena_section. Cache-line alignment for camera_capture's maintenance. */
#ifndef TE_ARENA_ATTRIBUTES
#error "TE_ARENA_ATTRIBUTES is not defined: set custom_tinyengine_arena_section (platformio.ini)"
#endif
static uint8_t frame_buffer[CAMERA_FRAME_BYTES] TE_ARENA_ATTRIBUTES __attribute__((aligned(CORTEX_M7_CACHE_LINE)));

#define FRAME_WORDS (CAMERA_FRAME_BYTES / 4u)
_Static_assert(FRAME_WORDS <= DMA_NDTR_MAX, "one DMA transfer holds at most 65535 words");
_Static_assert(FRAME_WORDS % 4u == 0u, "4-word memory bursts must divide the frame");
_Static_assert(CAMERA_FRAME_BYTES % CORTEX_M7_CACHE_LINE == 0u, "the frame must be whole cache lines");

#define DCMI_AF 13u
#define TIM1_AF 1u
#define RESET_PORT 'A'
#define RESET_PIN 10u
#define PWDN_PORT 'D'
#define PWDN_PIN 7u
#define PROBE_STEP_MS 10u /* each RESET/PWDN change; the OV7725 needs 1 ms after a reset */

static const struct {
    char port;
    uint8_t pin;
} dcmi_pins[] = {
    {'A', 4}, {'A', 6}, {'B', 7},                                         /* HSYNC, PIXCLK, VSYNC */
    {'C', 6}, {'C', 7}, {'E', 0}, {'E', 1}, {'E', 4}, {'B', 6}, {'E', 5}, {'E', 6}, /* D0..D7 */
};

/* OpenMV's firmware tries every polarity of RESET and PWDN until a sensor answers, since
 * its boards differ; so does this, the likeliest first (PWDN high powers the OV7725 down). */
static const struct {
    uint8_t pwdn_active_high;
    uint8_t reset_active_high;
} polarities[] = {{1, 0}, {1, 1}, {0, 0}, {0, 1}};

static void wait_ms(uint32_t ms)
{
    const uint64_t start = te_counter_read();
    while (te_counter_read() - start < CAMERA_MS_TICKS(ms)) {
    }
}

static void xclk_start(void)
{
    RCC_APB2ENR |= RCC_APB2ENR_TIM1EN;
    (void)RCC_APB2ENR;
    TIM1_CR1 = 0;
    TIM1_PSC = 0;
    TIM1_ARR = CAMERA_XCLK_PERIOD - 1u;
    TIM1_CCR1 = CAMERA_XCLK_HIGH;
    TIM1_CCMR1 = TIM_CCMR1_OC1M_PWM1 | TIM_CCMR1_OC1PE;
    TIM1_CCER = TIM_CCER_CC1E;
    TIM1_BDTR = TIM_BDTR_MOE;
    TIM1_EGR = TIM_EGR_UG; /* loads PSC, ARR and CCR1 from their preload registers */
    TIM1_CR1 = TIM_CR1_ARPE | TIM_CR1_CEN;
    gpio_alternate('A', 8, TIM1_AF, GPIO_SPEED_VERY_HIGH);
}

static camera_status probe(camera_report *report)
{
    for (size_t i = 0; i < sizeof(polarities) / sizeof(polarities[0]); i++) {
        report->pwdn_active_high = polarities[i].pwdn_active_high;
        report->reset_active_high = polarities[i].reset_active_high;
        gpio_write(PWDN_PORT, PWDN_PIN, !polarities[i].pwdn_active_high); /* powered up */
        wait_ms(PROBE_STEP_MS);
        gpio_write(RESET_PORT, RESET_PIN, polarities[i].reset_active_high);
        wait_ms(PROBE_STEP_MS);
        gpio_write(RESET_PORT, RESET_PIN, !polarities[i].reset_active_high);
        wait_ms(PROBE_STEP_MS);
        uint8_t high, low;
        if (sccb_read(OV7725_SCCB_ADDRESS, OV7725_REG_PID, &high) == 0 &&
            sccb_read(OV7725_SCCB_ADDRESS, OV7725_REG_VER, &low) == 0) {
            report->sensor_id = (uint32_t)high << 8 | low;
            return high == OV7725_PID && low == OV7725_VER ? CAMERA_OK : CAMERA_UNSUPPORTED_SENSOR;
        }
        if (sccb_read16(OV5640_SCCB_ADDRESS, OV5640_REG_CHIP_ID_HIGH, &high) == 0 &&
            sccb_read16(OV5640_SCCB_ADDRESS, OV5640_REG_CHIP_ID_LOW, &low) == 0) {
            report->sensor_id = (uint32_t)high << 8 | low;
            return CAMERA_UNSUPPORTED_SENSOR;
        }
    }
    return CAMERA_NO_SENSOR;
}

camera_status camera_init(camera_report *report)
{
    *report = (camera_report){0};
    RCC_AHB4ENR |= 0x1Fu; /* GPIOA..GPIOE */
    RCC_AHB2ENR |= RCC_AHB2ENR_DCMIEN;
    RCC_AHB1ENR |= RCC_AHB1ENR_DMA2EN;
    (void)RCC_AHB1ENR;
    gpio_mode(RESET_PORT, RESET_PIN, GPIO_MODE_OUTPUT);
    gpio_mode(PWDN_PORT, PWDN_PIN, GPIO_MODE_OUTPUT);
    for (size_t i = 0; i < sizeof(dcmi_pins) / sizeof(dcmi_pins[0]); i++) {
        gpio_alternate(dcmi_pins[i].port, dcmi_pins[i].pin, DCMI_AF, GPIO_SPEED_VERY_HIGH);
    }
    xclk_start();
    sccb_init();
    camera_status status = probe(report);
    if (status != CAMERA_OK) {
        return status;
    }
    if (sccb_write(OV7725_SCCB_ADDRESS, OV7725_REG_COM7, OV7725_COM7_RESET) != 0) {
        report->failed_register = OV7725_REG_COM7;
        return CAMERA_SCCB_ERROR;
    }
    wait_ms(OV7725_RESET_SETTLE_MS + 1u);
    for (uint32_t i = 0; i < ov7725_qvga_rgb565_count; i++) {
        if (sccb_write(OV7725_SCCB_ADDRESS, ov7725_qvga_rgb565[i].reg, ov7725_qvga_rgb565[i].value) != 0) {
            report->failed_register = ov7725_qvga_rgb565[i].reg;
            return CAMERA_SCCB_ERROR;
        }
    }
    wait_ms(OV7725_REGISTER_SETTLE_MS);
    DMAMUX1_C9CR = DMAMUX1_REQ_DCMI;
    return CAMERA_OK;
}

/* With the data cache on (the start-up code leaves it off) the DMA's writes must not meet
 * stale or dirty lines: `line_op` is SCB_DCCIMVAC before the transfer, SCB_DCIMVAC after. */
static void cache_maintain(volatile uint32_t *line_op)
{
    if ((SCB_CCR & SCB_CCR_DC) == 0u) {
        return;
    }
    __asm__ volatile("dsb" ::: "memory");
    for (uint32_t offset = 0; offset < CAMERA_FRAME_BYTES; offset += CORTEX_M7_CACHE_LINE) {
        *line_op = (uint32_t)(uintptr_t)(frame_buffer + offset);
    }
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}

static void dma_stop(void)
{
    DMA2_S1CR &= ~DMA_SCR_EN;
    const uint64_t start = te_counter_read();
    while ((DMA2_S1CR & DMA_SCR_EN) && te_counter_read() - start < CAMERA_MS_TICKS(1)) {
    }
}

camera_status camera_capture(uint8_t **frame, camera_report *report)
{
    cache_maintain(&SCB_DCCIMVAC);
    dma_stop();
    DMA2_LIFCR = DMA_LISR_S1_ALL;
    DMA2_S1PAR = DCMI_DR_ADDRESS;
    DMA2_S1M0AR = (uint32_t)(uintptr_t)frame_buffer;
    DMA2_S1NDTR = FRAME_WORDS;
    DMA2_S1FCR = DMA_SFCR_DMDIS | DMA_SFCR_FTH_FULL;
    DMA2_S1CR = DMA_SCR_DIR_P2M | DMA_SCR_MINC | DMA_SCR_PSIZE_WORD | DMA_SCR_MSIZE_WORD | DMA_SCR_PL_HIGH |
                DMA_SCR_MBURST_INCR4;
    DMA2_S1CR |= DMA_SCR_EN;
    /* Snapshot mode, 8-bit data, hardware sync with the OV7725's polarities (camera_config.c,
     * COM10): blanking while VSYNC is high and while HREF is low, data on PIXCLK's rising edge.
     * The DCMI is configured before ENABLE, and CAPTURE set after it (RM0433 chapter 34). */
    const uint32_t cr = DCMI_CR_CM | DCMI_CR_VSPOL | DCMI_CR_PCKPOL;
    DCMI_CR = cr;
    DCMI_ICR = DCMI_ICR_ALL;
    DCMI_CR = cr | DCMI_CR_ENABLE;
    DCMI_CR = cr | DCMI_CR_ENABLE | DCMI_CR_CAPTURE;

    /* The frame is whole when the DCMI has seen its end (FRAME) and the DMA has written every
     * word (TCIF1); after FRAME the DMA gets 1 ms to empty its FIFO. */
    camera_status status = CAMERA_TIMEOUT;
    const uint64_t start = te_counter_read();
    uint64_t frame_end = 0;
    int ended = 0;
    for (;;) {
        const uint32_t ris = DCMI_RIS, lisr = DMA2_LISR;
        const uint64_t now = te_counter_read();
        if (ris & DCMI_RIS_OVR) {
            status = CAMERA_OVERRUN;
            break;
        }
        if (lisr & DMA_LISR_TEIF1) {
            status = CAMERA_DMA_ERROR;
            break;
        }
        if ((ris & DCMI_RIS_FRAME) && (lisr & DMA_LISR_TCIF1)) {
            status = CAMERA_OK;
            break;
        }
        if ((ris & DCMI_RIS_FRAME) && !ended) {
            ended = 1;
            frame_end = now;
        }
        if (ended && now - frame_end > CAMERA_MS_TICKS(1)) {
            status = CAMERA_SHORT_FRAME;
            break;
        }
        if (now - start > CAMERA_MS_TICKS(CAMERA_FRAME_TIMEOUT_MS)) {
            break;
        }
    }
    report->received_bytes = CAMERA_FRAME_BYTES - (DMA2_S1NDTR & DMA_NDTR_MAX) * 4u;
    DCMI_CR = cr; /* CAPTURE and ENABLE off */
    dma_stop();
    if (status != CAMERA_OK) {
        return status;
    }
    cache_maintain(&SCB_DCIMVAC);
    /* The OV7725 sends each pixel's high byte first and the DCMI stores the first byte lowest:
     * the swap gives te_image its little-endian pixels (OpenMV swaps too: rgb_swap). */
    rgb565_swap_bytes(frame_buffer, CAMERA_FRAME_BYTES);
    *frame = frame_buffer;
    return CAMERA_OK;
}

const char *camera_status_text(camera_status status)
{
    switch (status) {
    case CAMERA_OK:
        return "ok";
    case CAMERA_NO_SENSOR:
        return "no sensor answered on SCCB (I2C1: PB8 SCL, PB9 SDA)";
    case CAMERA_UNSUPPORTED_SENSOR:
        return "the sensor is not an OV7725 (only the OV7725 is driven)";
    case CAMERA_SCCB_ERROR:
        return "the OV7725 did not acknowledge a register write";
    case CAMERA_TIMEOUT:
        return "no complete frame within the timeout (no VSYNC or PIXCLK from the sensor?)";
    case CAMERA_OVERRUN:
        return "DCMI overrun (the DMA fell behind, or the frame is larger than QVGA RGB565)";
    case CAMERA_DMA_ERROR:
        return "DMA transfer error";
    case CAMERA_SHORT_FRAME:
        return "the frame ended early (smaller than QVGA RGB565)";
    }
    return "unknown camera status";
}
