/* SCCB on I2C1 in master mode with AUTOEND: the peripheral sends START, the address, the
 * bytes and STOP by itself (RM0433 chapter 47, "I2C master mode"). SCCB has no repeated
 * start, so a register read is a one-byte write of the register address, STOP, then a
 * one-byte read, STOP, as the SCCB specification and OpenMV's driver do. Not run on a chip. */
#include "sccb.h"

#include "camera_config.h"
#include "stm32h743.h"
#include "te_firmware.h"

#define SCL_PIN 8u
#define SDA_PIN 9u
#define I2C1_AF 4u
#define I2C_ERRORS (I2C_ISR_NACKF | I2C_ISR_BERR | I2C_ISR_ARLO)

static int expired(uint64_t start)
{
    return te_counter_read() - start > CAMERA_MS_TICKS(SCCB_TIMEOUT_MS);
}

/* A stuck transfer: clearing PE resets I2C1's state machine and flags (RM0433 chapter 47,
 * "I2C software reset"; PE must stay low for 3 APB clocks, which the read-back covers). */
static void reset_peripheral(void)
{
    I2C1_CR1 &= ~I2C_CR1_PE;
    (void)I2C1_CR1;
    (void)I2C1_CR1;
    (void)I2C1_CR1;
    I2C1_CR1 |= I2C_CR1_PE;
}

static int wait_idle(void)
{
    const uint64_t start = te_counter_read();
    while (I2C1_ISR & I2C_ISR_BUSY) {
        if (expired(start)) {
            reset_peripheral();
            return -1;
        }
    }
    return 0;
}

/* Waits for `flag`; an error flag or the timeout ends the wait with -1. */
static int wait_flag(uint32_t flag)
{
    const uint64_t start = te_counter_read();
    for (;;) {
        const uint32_t isr = I2C1_ISR;
        if (isr & I2C_ERRORS) {
            return -1;
        }
        if (isr & flag) {
            return 0;
        }
        if (expired(start)) {
            return -1;
        }
    }
}

/* Every transfer ends with the STOP that AUTOEND (or a NACK) sends: waiting for it leaves the
 * bus free for the next START. */
static int finish(int status)
{
    const uint64_t start = te_counter_read();
    while ((I2C1_ISR & I2C_ISR_STOPF) == 0u) {
        if (expired(start)) {
            reset_peripheral();
            return -1;
        }
    }
    const uint32_t isr = I2C1_ISR;
    I2C1_ICR = I2C_ISR_STOPF | I2C_ERRORS;
    return status == 0 && (isr & I2C_ERRORS) == 0u ? 0 : -1;
}

static int write_bytes(uint8_t address, const uint8_t *bytes, uint32_t count)
{
    if (wait_idle() != 0) {
        return -1;
    }
    I2C1_CR2 = I2C_CR2_SADD7(address) | I2C_CR2_NBYTES(count) | I2C_CR2_AUTOEND | I2C_CR2_START;
    int status = 0;
    for (uint32_t i = 0; i < count && status == 0; i++) {
        status = wait_flag(I2C_ISR_TXIS);
        if (status == 0) {
            I2C1_TXDR = bytes[i];
        }
    }
    return finish(status);
}

static int read_byte(uint8_t address, uint8_t *value)
{
    if (wait_idle() != 0) {
        return -1;
    }
    I2C1_CR2 = I2C_CR2_SADD7(address) | I2C_CR2_RD_WRN | I2C_CR2_NBYTES(1) | I2C_CR2_AUTOEND | I2C_CR2_START;
    const int status = wait_flag(I2C_ISR_RXNE);
    if (status == 0) {
        *value = (uint8_t)I2C1_RXDR;
    }
    return finish(status);
}

void sccb_init(void)
{
    RCC_AHB4ENR |= 1u << ('B' - 'A');
    RCC_APB1LENR |= RCC_APB1LENR_I2C1EN;
    (void)RCC_APB1LENR; /* read back: the clock runs before the first register access */
    /* Open drain with the internal pull-ups (about 40 kOhm) beside the board's own. */
    GPIO_OTYPER('B') |= (1u << SCL_PIN) | (1u << SDA_PIN);
    GPIO_PUPDR('B') = (GPIO_PUPDR('B') & ~((3u << (SCL_PIN * 2u)) | (3u << (SDA_PIN * 2u)))) |
                      (1u << (SCL_PIN * 2u)) | (1u << (SDA_PIN * 2u));
    gpio_alternate('B', SCL_PIN, I2C1_AF, GPIO_SPEED_LOW);
    gpio_alternate('B', SDA_PIN, I2C1_AF, GPIO_SPEED_LOW);
    I2C1_CR1 = 0; /* TIMINGR is written with PE off */
    I2C1_TIMINGR = I2C_TIMINGR(SCCB_PRESC, SCCB_SCLDEL, SCCB_SDADEL, SCCB_SCLH, SCCB_SCLL);
    I2C1_CR1 = I2C_CR1_PE;
}

int sccb_write(uint8_t address, uint8_t reg, uint8_t value)
{
    const uint8_t bytes[2] = {reg, value};
    return write_bytes(address, bytes, 2);
}

int sccb_read(uint8_t address, uint8_t reg, uint8_t *value)
{
    return write_bytes(address, &reg, 1) == 0 ? read_byte(address, value) : -1;
}

int sccb_read16(uint8_t address, uint16_t reg, uint8_t *value)
{
    const uint8_t bytes[2] = {(uint8_t)(reg >> 8), (uint8_t)reg};
    return write_bytes(address, bytes, 2) == 0 ? read_byte(address, value) : -1;
}
