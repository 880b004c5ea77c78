/* SCCB, the OV sensors' I2C-like register bus, on the OpenMV Cam H7's I2C1 (PB8 SCL, PB9 SDA,
 * alternate function 4, as OpenMV's board config says). Every call returns 0, or -1 when the
 * sensor did not acknowledge or the bus stayed busy past SCCB_TIMEOUT_MS. */
#ifndef OPENMV_H7_SCCB_H
#define OPENMV_H7_SCCB_H

#include <stdint.h>

#define SCCB_TIMEOUT_MS 10u

void sccb_init(void);
/* 8-bit register addresses (OV7725). */
int sccb_write(uint8_t address, uint8_t reg, uint8_t value);
int sccb_read(uint8_t address, uint8_t reg, uint8_t *value);
/* 16-bit register addresses, high byte first (OV5640). */
int sccb_read16(uint8_t address, uint16_t reg, uint8_t *value);

#endif
