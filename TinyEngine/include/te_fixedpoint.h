/* TFLite's integer requantisation, bit for bit (gemmlowp's rounding doubling
 * high multiply and rounding right shift, tflite::MultiplyByQuantizedMultiplier). */
#ifndef TE_FIXEDPOINT_H
#define TE_FIXEDPOINT_H

#include <stdint.h>

static inline int32_t te_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (1LL << 30) : (1 - (1LL << 30));
    /* C division truncates toward zero, as gemmlowp relies on. */
    return (int32_t)((ab + nudge) / (1LL << 31));
}

static inline int32_t te_rounding_divide_by_pot(int32_t x, int exponent)
{
    int32_t mask = (int32_t)((1LL << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static inline int32_t te_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return te_rounding_divide_by_pot(te_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

/* One rounding of the 64-bit product (TFLite's TFLITE_SINGLE_ROUNDING arithmetic), which
 * LiteRT's reference FULLY_CONNECTED uses. */
static inline int32_t te_requantize_single_round(int32_t x, int32_t multiplier, int32_t shift)
{
    const int total_shift = 31 - shift;
    const int64_t round = (int64_t)1 << (total_shift - 1);
    return (int32_t)(((int64_t)x * multiplier + round) >> total_shift);
}

/* a + b wrapping like the two's-complement hardware TFLite runs on: real models carry
 * biases near INT32_MIN on dead channels, and signed overflow is undefined in C. */
static inline int32_t te_wrapping_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t te_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

#endif
