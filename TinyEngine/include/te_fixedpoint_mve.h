/* te_requantize (te_fixedpoint.h) on four int32 lanes with Helium (MVE) instructions, bit for bit.
 *
 * Why it is identical, for a = x << max(shift, 0) (VSHL wraps, as te_requantize's shift does),
 * P = a * multiplier and e = max(-shift, 0):
 * 1. te_srdhm is floor((P + 2^30) / 2^31) for every P (te_fixedpoint.h, step 1), saturated to
 *    INT32_MAX for a = multiplier = INT32_MIN; VQRDMULH computes (2P + 2^31) >> 32, the same
 *    value, with the same saturation.
 * 2. te_rounding_divide_by_pot rounds half away from zero: floor((h + 2^(e-1) - [h < 0]) / 2^e)
 *    for e >= 1. VRSHL by -e rounds half up, floor((y + 2^(e-1)) / 2^e) computed without
 *    overflow; y = h - [h < 0 and e >= 1] gives the former. The borrow is the sign bit of
 *    h & -e (-e is negative exactly when e >= 1), and the saturating VQADD leaves h = INT32_MIN
 *    as it is, where the result is the same: INT32_MIN is a multiple of 2^e and
 *    2^(e-1) - 1 < 2^e. For e = 0 VRSHL by 0 returns y = h.
 * tests/harness/requant_check.c checks it against te_requantize on edge values on the simulated
 * Cortex-M55 (tests/test_qemu_mve.py). */
#ifndef TE_FIXEDPOINT_MVE_H
#define TE_FIXEDPOINT_MVE_H

#include "tinyengine.h"

#if TE_USE_MVE
#include <arm_mve.h>

/* te_requantize(x, multiplier, shift) per lane, with left = max(shift, 0) and
 * right = min(shift, 0) per lane. */
static inline __attribute__((always_inline)) int32x4_t te_mve_requantize(int32x4_t x, int32x4_t multiplier,
                                                                         int32x4_t left, int32x4_t right)
{
    const int32x4_t high = vqrdmulhq_s32(vshlq_s32(x, left), multiplier);
    return vrshlq_s32(vqaddq_s32(high, vshrq_n_s32(vandq_s32(high, right), 31)), right);
}

/* The same with one multiplier and shift for every lane (scalars in general registers). */
static inline __attribute__((always_inline)) int32x4_t te_mve_requantize_n(int32x4_t x, int32_t multiplier,
                                                                           int32_t left, int32_t right)
{
    const int32x4_t high = vqrdmulhq_n_s32(vshlq_r_s32(x, left), multiplier);
    return vrshlq_n_s32(vqaddq_s32(high, vshrq_n_s32(vandq_s32(high, vdupq_n_s32(right)), 31)), right);
}
#endif

#endif
