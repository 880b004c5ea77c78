/* The STM32H743 registers the camera glue touches, named as in ST's reference manual
 * RM0433: chapter 2 (memory map), 8 (RCC), 11 (GPIO), 15 (DMA), 17 (DMAMUX), 34 (DCMI),
 * 39 (TIM1/TIM8), 47 (I2C). Those chapter numbers are quoted from memory of RM0433 Rev 7 and
 * were not checked against the manual's text here; the base addresses, RCC offsets, the
 * I2C1EN, DCMI_CR bits, the DMAMUX request number (75) and the DCMI/TIM1/I2C1 alternate
 * functions were checked against ST's CMSIS and HAL headers (stm32h743xx.h,
 * stm32h7xx_hal_dma.h, stm32h7xx_hal_gpio_ex.h); the other bit positions are the same as on
 * the STM32F7, whose DMA stream, I2C, TIM and DCMI blocks the H7 reuses. Nothing here has
 * run on a chip. Only what camera.c and sccb.c use is here. */
#ifndef OPENMV_H7_STM32H743_H
#define OPENMV_H7_STM32H743_H

#include <stdint.h>

#define REG32(address) (*(volatile uint32_t *)(address))

/* ---- RCC (chapter 8): peripheral clock enables. After reset the H743 runs on HSI at
 * 64 MHz with every prescaler at 1 (RCC_CR.HSIDIV, RCC_D1CFGR.D1CPRE/HPRE, RCC_D2CFGR.D2PPRE1/2
 * reset to /1), so the core, AHB and APB clocks are all 64 MHz; nothing here changes that. */
#define RCC_BASE 0x58024400u
#define RCC_AHB1ENR REG32(RCC_BASE + 0x0D8u) /* DMA1EN bit 0, DMA2EN bit 1 */
#define RCC_AHB2ENR REG32(RCC_BASE + 0x0DCu) /* DCMIEN bit 0 */
#define RCC_AHB4ENR REG32(RCC_BASE + 0x0E0u) /* GPIOxEN, port A bit 0 .. K bit 10 */
#define RCC_APB1LENR REG32(RCC_BASE + 0x0E8u) /* I2C1EN bit 21 */
#define RCC_APB2ENR REG32(RCC_BASE + 0x0F0u) /* TIM1EN bit 0 */
#define RCC_AHB1ENR_DMA2EN (1u << 1)
#define RCC_AHB2ENR_DCMIEN (1u << 0)
#define RCC_APB1LENR_I2C1EN (1u << 21)
#define RCC_APB2ENR_TIM1EN (1u << 0)

/* ---- GPIO (chapter 11): ports 0x400 apart from GPIOA. */
#define GPIO_BASE(port) (0x58020000u + 0x400u * (uint32_t)((port) - 'A'))
#define GPIO_MODER(port) REG32(GPIO_BASE(port) + 0x00u)   /* 2 bits a pin: 00 in, 01 out, 10 AF */
#define GPIO_OTYPER(port) REG32(GPIO_BASE(port) + 0x04u)  /* 1 bit a pin: 1 open-drain */
#define GPIO_OSPEEDR(port) REG32(GPIO_BASE(port) + 0x08u) /* 2 bits a pin: 00 low .. 11 very high */
#define GPIO_PUPDR(port) REG32(GPIO_BASE(port) + 0x0Cu)   /* 2 bits a pin: 01 pull-up */
#define GPIO_BSRR(port) REG32(GPIO_BASE(port) + 0x18u)    /* bit n sets pin n, bit n + 16 resets it */
#define GPIO_AFR(port, pin) REG32(GPIO_BASE(port) + ((pin) < 8 ? 0x20u : 0x24u)) /* 4 bits a pin */
#define GPIO_MODE_OUTPUT 1u
#define GPIO_MODE_AF 2u
#define GPIO_SPEED_LOW 0u
#define GPIO_SPEED_VERY_HIGH 3u

static inline void gpio_mode(char port, unsigned pin, uint32_t mode)
{
    GPIO_MODER(port) = (GPIO_MODER(port) & ~(3u << (pin * 2u))) | (mode << (pin * 2u));
}

/* Pin to alternate function `af` (the STM32H743 datasheet's alternate-function table, AF0..AF15). */
static inline void gpio_alternate(char port, unsigned pin, uint32_t af, uint32_t speed)
{
    const unsigned nibble = (pin % 8u) * 4u;
    GPIO_AFR(port, pin) = (GPIO_AFR(port, pin) & ~(0xFu << nibble)) | (af << nibble);
    GPIO_OSPEEDR(port) = (GPIO_OSPEEDR(port) & ~(3u << (pin * 2u))) | (speed << (pin * 2u));
    gpio_mode(port, pin, GPIO_MODE_AF);
}

static inline void gpio_write(char port, unsigned pin, int high)
{
    GPIO_BSRR(port) = high ? 1u << pin : 1u << (pin + 16u);
}

/* ---- TIM1 (chapter 39, advanced-control timers): the sensor's XCLK as PWM on channel 1.
 * Its kernel clock is 64 MHz after reset: with the APB2 prescaler at 1 (D2PPRE2 = 0) and
 * RCC_CFGR.TIMPRE = 0 the timers run at rcc_hclk1 (chapter 8, the timers' kernel clock and RCC_CFGR.TIMPRE). */
#define TIM1_BASE 0x40010000u
#define TIM1_CR1 REG32(TIM1_BASE + 0x00u)   /* CEN bit 0, ARPE bit 7 */
#define TIM1_EGR REG32(TIM1_BASE + 0x14u)   /* UG bit 0 */
#define TIM1_CCMR1 REG32(TIM1_BASE + 0x18u) /* OC1M bits 6:4 (and bit 16), OC1PE bit 3 */
#define TIM1_CCER REG32(TIM1_BASE + 0x20u)  /* CC1E bit 0 */
#define TIM1_PSC REG32(TIM1_BASE + 0x28u)
#define TIM1_ARR REG32(TIM1_BASE + 0x2Cu)
#define TIM1_CCR1 REG32(TIM1_BASE + 0x34u)
#define TIM1_BDTR REG32(TIM1_BASE + 0x44u) /* MOE bit 15: TIM1's outputs stay off without it */
#define TIM_CR1_CEN (1u << 0)
#define TIM_CR1_ARPE (1u << 7)
#define TIM_EGR_UG (1u << 0)
#define TIM_CCMR1_OC1PE (1u << 3)
#define TIM_CCMR1_OC1M_PWM1 (6u << 4) /* 0110: PWM mode 1, high while CNT < CCR1 */
#define TIM_CCER_CC1E (1u << 0)
#define TIM_BDTR_MOE (1u << 15)

/* ---- I2C1 (chapter 47): the SCCB bus. Its kernel clock is rcc_pclk1, 64 MHz after
 * reset (RCC_D2CCIP2R.I2C123SEL = 00). */
#define I2C1_BASE 0x40005400u
#define I2C1_CR1 REG32(I2C1_BASE + 0x00u)     /* PE bit 0 */
#define I2C1_CR2 REG32(I2C1_BASE + 0x04u)     /* I2C_CR2 */
#define I2C1_TIMINGR REG32(I2C1_BASE + 0x10u) /* PRESC 31:28, SCLDEL 23:20, SDADEL 19:16, SCLH 15:8, SCLL 7:0 */
#define I2C1_ISR REG32(I2C1_BASE + 0x18u)     /* I2C_ISR */
#define I2C1_ICR REG32(I2C1_BASE + 0x1Cu)     /* the ISR flag bits, written 1 to clear */
#define I2C1_RXDR REG32(I2C1_BASE + 0x24u)
#define I2C1_TXDR REG32(I2C1_BASE + 0x28u)
#define I2C_CR1_PE (1u << 0)
#define I2C_CR2_SADD7(address) ((uint32_t)(address) << 1) /* 7-bit address in SADD[7:1] */
#define I2C_CR2_RD_WRN (1u << 10)
#define I2C_CR2_START (1u << 13)
#define I2C_CR2_NBYTES(n) ((uint32_t)(n) << 16)
#define I2C_CR2_AUTOEND (1u << 25)
#define I2C_ISR_TXIS (1u << 1)
#define I2C_ISR_RXNE (1u << 2)
#define I2C_ISR_NACKF (1u << 4)
#define I2C_ISR_STOPF (1u << 5)
#define I2C_ISR_BERR (1u << 8)
#define I2C_ISR_ARLO (1u << 9)
#define I2C_ISR_BUSY (1u << 15)
#define I2C_TIMINGR(presc, scldel, sdadel, sclh, scll)                                                         \
    (((uint32_t)(presc) << 28) | ((uint32_t)(scldel) << 20) | ((uint32_t)(sdadel) << 16) | ((uint32_t)(sclh) << 8) | \
     (uint32_t)(scll))

/* ---- DCMI (chapter 34). */
#define DCMI_BASE 0x48020000u
#define DCMI_CR REG32(DCMI_BASE + 0x00u)  /* DCMI_CR */
#define DCMI_RIS REG32(DCMI_BASE + 0x08u) /* raw interrupt status */
#define DCMI_ICR REG32(DCMI_BASE + 0x14u) /* the RIS bits, written 1 to clear */
#define DCMI_DR_ADDRESS (DCMI_BASE + 0x28u)
#define DCMI_CR_CAPTURE (1u << 0)
#define DCMI_CR_CM (1u << 1)     /* 1: snapshot, one frame, then CAPTURE clears itself */
#define DCMI_CR_PCKPOL (1u << 5) /* 1: data sampled on PIXCLK's rising edge */
#define DCMI_CR_HSPOL (1u << 6)  /* 1: HSYNC active (blanking) high; 0: blanking while low */
#define DCMI_CR_VSPOL (1u << 7)  /* 1: VSYNC active (blanking) high */
#define DCMI_CR_ENABLE (1u << 14)
/* EDM (bits 11:10) = 00: 8-bit data; FCRC (9:8) = 00: every frame; ESS, JPEG, CROP = 0. */
#define DCMI_RIS_FRAME (1u << 0)
#define DCMI_RIS_OVR (1u << 1)
#define DCMI_RIS_ERR (1u << 2) /* synchronisation error: embedded codes only, never set here */
#define DCMI_ICR_ALL 0x1Fu

/* ---- DMA2 stream 1 (chapter 15), the stream OpenMV gives the DCMI. */
#define DMA2_BASE 0x40020400u
#define DMA2_LISR REG32(DMA2_BASE + 0x00u)  /* DMA_LISR: stream 1's flags are bits 6..11 */
#define DMA2_LIFCR REG32(DMA2_BASE + 0x08u) /* DMA_LIFCR: the same bits, written 1 to clear */
#define DMA2_S1CR REG32(DMA2_BASE + 0x10u + 0x18u * 1u)   /* DMA_SxCR */
#define DMA2_S1NDTR REG32(DMA2_BASE + 0x14u + 0x18u * 1u) /* DMA_SxNDTR: items left, 16 bits */
#define DMA2_S1PAR REG32(DMA2_BASE + 0x18u + 0x18u * 1u)
#define DMA2_S1M0AR REG32(DMA2_BASE + 0x1Cu + 0x18u * 1u)
#define DMA2_S1FCR REG32(DMA2_BASE + 0x24u + 0x18u * 1u) /* DMA_SxFCR */
#define DMA_LISR_S1_ALL (0x3Du << 6)                     /* FEIF1 6, DMEIF1 8, TEIF1 9, HTIF1 10, TCIF1 11 */
#define DMA_LISR_TEIF1 (1u << 9)
#define DMA_LISR_TCIF1 (1u << 11)
#define DMA_SCR_EN (1u << 0)
#define DMA_SCR_DIR_P2M (0u << 6)
#define DMA_SCR_MINC (1u << 10)
#define DMA_SCR_PSIZE_WORD (2u << 11)
#define DMA_SCR_MSIZE_WORD (2u << 13)
#define DMA_SCR_PL_HIGH (2u << 16)
#define DMA_SCR_MBURST_INCR4 (1u << 23)
#define DMA_SFCR_FTH_FULL (3u << 0)
#define DMA_SFCR_DMDIS (1u << 2) /* FIFO mode: the memory side writes in bursts */
#define DMA_NDTR_MAX 0xFFFFu

/* ---- DMAMUX1 (chapter 17): channel 8 + n serves DMA2 stream n, channel n DMA1 stream n;
 * request 75 is the DCMI (table "DMAMUX1: assignment of multiplexer inputs to resources"). */
#define DMAMUX1_BASE 0x40020800u
#define DMAMUX1_C9CR REG32(DMAMUX1_BASE + 0x04u * 9u) /* DMAREQ_ID bits 7:0 */
#define DMAMUX1_REQ_DCMI 75u

/* ---- Cortex-M7 system control block (Armv7-M ARM B3.2, cache maintenance B2.2.7). */
#define SCB_CCR REG32(0xE000ED14u)
#define SCB_CCR_DC (1u << 16) /* data cache enabled */
#define SCB_DCIMVAC REG32(0xE000EF5Cu)  /* invalidate a data cache line by address */
#define SCB_DCCIMVAC REG32(0xE000EF70u) /* clean and invalidate a data cache line by address */
#define CORTEX_M7_CACHE_LINE 32u

#endif
