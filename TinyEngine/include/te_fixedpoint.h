/* TFLite's integer requantisation, bit for bit (gemmlowp's rounding doubling
 * high multiply and rounding right shift, tflite::MultiplyByQuantizedMultiplier). */
#ifndef TE_FIXEDPOINT_H
#define TE_FIXEDPOINT_H

#include <stdint.h>

#include "tinyengine.h"

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

/* te_requantize_single_round(x, multiplier, shift) + offset, prepared once per channel
 * (te_single_round_prepare) and applied with one SMLAL and a shift or two (te_single_round_apply),
 * for every int32 x, multiplier > INT32_MIN, shift in [-31, 30] (TFLite's range) and offset in
 * [-128, 127].
 * Why it is identical. With t = 31 - shift in [1, 62] and P = x multiplier (exact in 64 bits,
 * |P| <= 2^62 - 2^31), the reference is the int32 of floor(S / 2^t), S = P + 2^(t-1), plus the
 * offset; SMLAL adds P to a start value in 64 bits, exactly (the sums stay below 2^63).
 * - t >= 32, right = t - 32 = k in [0, 30]: floor(S / 2^t) = floor(floor(S / 2^32) / 2^k), the
 *   high word of S shifted right arithmetically by k. For k <= TE_SINGLE_ROUND_MAX_RIGHT the offset
 *   goes into the start value as offset 2^t (an integer added after the floor is a multiple of
 *   2^t added before it): (2 offset + 1) 2^(t-1), 2^31 in the low word and offset in the high word
 *   for k = 0, ((2 offset + 1) << k) >> 1 in the high word and a zero low word for k >= 1. The
 *   high word stays inside int32: |2 offset + 1| <= 255 puts it in
 *   [-2^30 - 127.5 2^k - 1, 2^30 + 127.5 2^k), inside [-2^31, 2^31) for k <= 23. Wider k add the
 *   offset after the shift (start 2^(k-1) in the high word).
 * - t <= 31, right = t - 32 in [-31, -1]: the start value 2^(t-1) in the low word; the int32 of
 *   floor(S / 2^t) is bits t to t + 31 of S, (hi << (32 - t)) | (lo >> t), with the offset after.
 * tests/harness/requant_check.c checks it against te_requantize_single_round on edge values, on
 * the host and on the simulated cores. */
#define TE_SINGLE_ROUND_MAX_RIGHT 23

typedef struct {
    uint32_t start_lo;
    int32_t start_hi;
    int32_t right;  /* t - 32 */
    int32_t offset; /* added after the shift; 0 where folded into start_hi */
} te_single_round;

static inline te_single_round te_single_round_prepare(int32_t shift, int32_t offset)
{
    te_single_round q;
    q.right = -1 - shift;
    q.offset = offset;
    q.start_lo = q.right < 0 ? 1u << (30 - shift) : (q.right == 0 ? 0x80000000u : 0u);
    q.start_hi = q.right >= 1 ? (int32_t)1 << (q.right - 1) : 0;
    if (q.right >= 0 && q.right <= TE_SINGLE_ROUND_MAX_RIGHT) {
        q.start_hi = (int32_t)((2u * (uint32_t)offset + 1u) << q.right) >> 1;
        q.offset = 0;
    }
    return q;
}

/* te_requantize for one output channel, prepared once (te_requant_prepare) and applied to
 * many accumulators (te_requant_apply) with one 64-bit multiply-accumulate (SMLAL), a borrow
 * and a shift instead of gemmlowp's two roundings, giving te_requantize's result for every x
 * when |multiplier| is 0 or in [2^30, 2^31) (every multiplier quantize_multiplier makes).
 *
 * Why it is identical. Let a = x << max(shift, 0) (wrapping, as TFLite), P = a * multiplier
 * (exact in 64 bits, |P| < 2^62) and e = max(-shift, 0).
 * 1. te_srdhm: a = multiplier = INT32_MIN cannot occur, so h = trunc((P + nudge) / 2^31) with
 *    nudge 2^30 or 1 - 2^30 by the sign of P. Writing P = q 2^31 + r (0 <= r < 2^31), both
 *    branches give q + [r >= 2^30]: h = floor((P + 2^30) / 2^31) for every P.
 * 2. e = 0: the result is h = floor((2P + 2^31) / 2^32), the high word of 2^31 + P + P.
 * 3. e >= 1: te_rounding_divide_by_pot rounds half away from zero:
 *    R = floor((h + 2^(e-1) - [h < 0]) / 2^e). Since floor((floor(y / m) + c) / n) =
 *    floor((y + c m) / (m n)) for integers y, c and positive m, n,
 *    R = floor((U - [h < 0] 2^31) / 2^(31+e)) with U = 2^30 + 2^(30+e) + P.
 *    h < 0 <=> P < -2^30 <=> a and the multiplier have opposite signs (n = [(a ^ m) < 0]),
 *    except where P is 0 or -2^30 while n = 1 (a or the multiplier 0, or a = -+1 against a
 *    multiplier of +-2^30): there both forms give 0, floor((2^30 or 0) + 2^(30+e) - 2^31) /
 *    2^(31+e)) = 0 = floor((2^30 or 0) + 2^(30+e)) / 2^(31+e)) for e >= 1.
 *    As 31 + e >= 32, R is the high word of U - n 2^31 (the high word of U less the borrow,
 *    n and low word < 2^31), shifted right arithmetically by e - 1. |U| < 2^63: no overflow.
 * tests/harness/requant_check.c checks it against te_requantize on edge values, on the host
 * (tests/test_kernel_conv_fast.py) and on the simulated M4 and M7 (tests/test_qemu_conv.py). */
typedef struct {
    int32_t multiplier;
    int32_t left;      /* max(shift, 0) */
    int32_t right;     /* e - 1; -1 for e = 0 */
    int32_t start_hi;  /* the high word of the start value (see te_requant_prepare) */
    uint32_t start_lo; /* its low word: 2^30 + 2^(30+e) for e >= 1, 2^31 for e = 0 */
    int32_t offset;    /* added to the result unless folded into start_hi */
} te_requant_channel;

/* The widest right shift (e - 1) for which the offset is folded into the start value:
 * the high word, |hi| < 2^30 + 2^(e-2) + 1, plus offset 2^(e-1) with |offset| <= 2^7
 * stays within int32 (adding a multiple of 2^(e-1) before the final arithmetic shift adds
 * exactly offset after it). */
#define TE_REQUANT_FOLD_MAX_RIGHT 22

/* te_requantize(x, multiplier, shift) + offset for any x, via te_requant_apply; |offset| <= 128. */
static inline te_requant_channel te_requant_prepare(int32_t multiplier, int32_t shift, int32_t offset)
{
    te_requant_channel q;
    q.multiplier = multiplier;
    q.left = shift > 0 ? shift : 0;
    q.right = q.left - shift - 1;
    /* cppcheck 2.10 takes q.right for below -2 here (it is -1 for shift > 0, -shift - 1 else). */
    /* cppcheck-suppress knownConditionTrueFalse */
    q.start_lo = q.right > 0 ? 0x40000000u : (q.right == 0 ? 0xC0000000u : 0x80000000u);
    /* cppcheck-suppress knownConditionTrueFalse */
    q.start_hi = q.right >= 1 ? (int32_t)1 << (q.right - 1) : 0;
    q.offset = offset;
    if (q.right >= 0 && q.right <= TE_REQUANT_FOLD_MAX_RIGHT) {
        q.start_hi += (int32_t)((uint32_t)offset << q.right);
        q.offset = 0;
    }
    return q;
}

/* hi:lo += a * b, signed 64-bit: one SMLAL on the DSP path, where GCC 12 turns the C below
 * into a full 64 x 64 multiply when the operands' sign extensions are shared. */
static inline void te_smlal(uint32_t *lo, int32_t *hi, int32_t a, int32_t b)
{
#if TE_USE_DSP
    __asm__("smlal %0, %1, %2, %3" : "+r"(*lo), "+r"(*hi) : "r"(a), "r"(b));
#else
    const uint64_t sum = (((uint64_t)(uint32_t)*hi << 32) | *lo) + (uint64_t)((int64_t)a * b);
    *lo = (uint32_t)sum;
    *hi = (int32_t)(uint32_t)(sum >> 32);
#endif
}

/* c plus the rounded high word of a * b, (a * b + 2^31) >> 32, wrapping: one SMMLAR on the DSP
 * path. */
static inline int32_t te_smmlar(int32_t a, int32_t b, int32_t c)
{
#if TE_USE_DSP
    int32_t v;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(v) : "r"(a), "r"(b), "r"(c));
    return v;
#else
    return (int32_t)((uint32_t)c + (uint32_t)(((int64_t)a * b + 0x80000000LL) >> 32));
#endif
}

/* te_requantize_single_round(x, multiplier, shift) + offset for q = te_single_round_prepare(shift,
 * offset). */
static inline int32_t te_single_round_apply(const te_single_round *q, int32_t x, int32_t multiplier)
{
    uint32_t lo = q->start_lo;
    int32_t hi = q->start_hi;
    te_smlal(&lo, &hi, x, multiplier);
    const int32_t v = q->right >= 0 ? hi >> q->right : (int32_t)(((uint32_t)hi << -q->right) | (lo >> (32 + q->right)));
    return te_wrapping_add(v, q->offset);
}

/* The common case, e in [1, TE_REQUANT_FOLD_MAX_RIGHT + 1] (scales from 2^-24 to 1/2), with
 * the offset folded into the start value (start_lo, start_hi as te_requant_prepare sets them:
 * start_lo is 2^30 for e >= 2), and a = x. */
static inline int32_t te_requant_fast(int32_t x, int32_t multiplier, uint32_t start_lo, int32_t start_hi,
                                      int32_t right)
{
    uint32_t lo = start_lo;
    int32_t hi = start_hi;
    te_smlal(&lo, &hi, x, multiplier);
    const uint32_t borrow = ((uint32_t)(x ^ multiplier) & ~lo) >> 31;
    return (int32_t)((uint32_t)hi - borrow) >> right;
}

/* Whether te_requant_fast applies with start_lo = 2^30 (e >= 2): what the convolutions' output
 * stage checks, deriving start_hi from the shift alone. */
static inline int te_requant_is_fast(int32_t right)
{
    return (uint32_t)(right - 1) <= (uint32_t)(TE_REQUANT_FOLD_MAX_RIGHT - 1);
}

static inline int32_t te_requant_apply(const te_requant_channel *q, int32_t x)
{
    if ((uint32_t)q->right <= TE_REQUANT_FOLD_MAX_RIGHT) {
        return te_requant_fast(x, q->multiplier, q->start_lo, q->start_hi, q->right);
    }
    uint32_t lo = q->start_lo;
    int32_t hi = q->start_hi;
    if (q->right < 0) {
        const int32_t a = (int32_t)((uint32_t)x << q->left);
        te_smlal(&lo, &hi, a, q->multiplier);
        te_smlal(&lo, &hi, a, q->multiplier);
        return te_wrapping_add(hi, q->offset);
    }
    te_smlal(&lo, &hi, x, q->multiplier);
    const uint32_t borrow = ((uint32_t)(x ^ q->multiplier) & ~lo) >> 31;
    return te_wrapping_add((int32_t)((uint32_t)hi - borrow) >> q->right, q->offset);
}

#endif
