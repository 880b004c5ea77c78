/* gemmlowp's fixed-point exp, reciprocal and log (fixedpoint/fixedpoint.h and TFLite's
 * kernels/internal/common.h), bit for bit, for the integer SOFTMAX and LOG_SOFTMAX.
 *
 * A value "in Qm" is an int32 with m integer bits and 31 - m fractional bits. gemmlowp's
 * plain + and - on raw values wrap; they are done here in uint32_t so that C sees no
 * signed overflow. */
#ifndef TE_FIXEDPOINT_EXP_H
#define TE_FIXEDPOINT_EXP_H

#include <stdint.h>

#include "te_fixedpoint.h"

static inline int32_t te_fx_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t te_fx_sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* x * 2^exponent: saturating for exponent > 0, rounding to nearest for exponent < 0
 * (gemmlowp::SaturatingRoundingMultiplyByPOT, also what Rescale does). */
static inline int32_t te_fx_mul_pot(int32_t x, int exponent)
{
    if (exponent < 0) {
        return te_rounding_divide_by_pot(x, -exponent);
    }
    if (exponent == 0) {
        return x;
    }
    const int32_t threshold = (int32_t)((1LL << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* (a + b) / 2 rounded half away from zero (gemmlowp::RoundingHalfSum). */
static inline int32_t te_fx_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

static inline int32_t te_fx_saturating_add(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    return sum > INT32_MAX ? INT32_MAX : (sum < INT32_MIN ? INT32_MIN : (int32_t)sum);
}

static inline int32_t te_fx_saturating_sub(int32_t a, int32_t b)
{
    const int64_t diff = (int64_t)a - (int64_t)b;
    return diff > INT32_MAX ? INT32_MAX : (diff < INT32_MIN ? INT32_MIN : (int32_t)diff);
}

static inline int te_clz32(uint32_t x)
{
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        n++;
    }
    return n;
}

/* exp(a) for a in [-1/4, 0), Q0 in and out: Taylor expansion around -1/8. */
static inline int32_t te_fx_exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = te_fx_add(a, 1 << 28);
    const int32_t x2 = te_srdhm(x, x);
    const int32_t x3 = te_srdhm(x2, x);
    const int32_t x4 = te_srdhm(x2, x2);
    const int32_t x4_over_4 = te_rounding_divide_by_pot(x4, 2);
    const int32_t x4_over_24_plus_x3_over_6_plus_x2_over_2 =
        te_rounding_divide_by_pot(te_fx_add(te_srdhm(te_fx_add(x4_over_4, x3), constant_1_over_3), x2), 1);
    return te_fx_add(constant_term,
                     te_srdhm(constant_term, te_fx_add(x, x4_over_24_plus_x3_over_6_plus_x2_over_2)));
}

/* exp(a) for a <= 0, `a` in Q(integer_bits), result in Q0: the fraction by the polynomial
 * above, each integer-ish bit of -a by a constant factor exp(-2^k). */
static inline int32_t te_fx_exp_on_negative_values(int32_t a, int integer_bits)
{
    static const int32_t multipliers[7] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1) */
        290630308,  /* exp(-2) */
        39332535,   /* exp(-4) */
        720401,     /* exp(-8) */
        242,        /* exp(-16) */
    };
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter;
    int32_t result = te_fx_exp_on_interval_between_negative_one_quarter_and_0_excl(
        te_fx_mul_pot(a_mod_quarter_minus_one_quarter, integer_bits));
    const int32_t remainder = te_fx_sub(a_mod_quarter_minus_one_quarter, a);
    for (int exponent = -2; exponent <= 4; exponent++) {
        if (integer_bits > exponent && (remainder & ((int32_t)1 << (fractional_bits + exponent))) != 0) {
            result = te_srdhm(result, multipliers[exponent + 2]);
        }
    }
    if (integer_bits > 5 && a < -((int32_t)1 << (36 - integer_bits))) {
        result = 0; /* below -32 */
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), Q0 in and out: three Newton-Raphson steps in Q2. */
static inline int32_t te_fx_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    const int32_t half_denominator = te_fx_rounding_half_sum(a, INT32_MAX);
    const int32_t constant_48_over_17 = 1515870810;
    const int32_t constant_neg_32_over_17 = -1010580540;
    const int32_t one_in_q2 = 1 << 29;
    int32_t x = te_fx_add(constant_48_over_17, te_srdhm(half_denominator, constant_neg_32_over_17));
    for (int i = 0; i < 3; i++) {
        const int32_t half_denominator_times_x = te_srdhm(half_denominator, x);
        const int32_t one_minus_half_denominator_times_x = te_fx_sub(one_in_q2, half_denominator_times_x);
        x = te_fx_add(x, te_fx_mul_pot(te_srdhm(x, one_minus_half_denominator_times_x), 2));
    }
    return te_fx_mul_pot(x, 1);
}

/* tflite::GetReciprocal: 1 / x for x > 0 in Q(x_integer_digits), as a Q0 mantissa and the
 * number of bits x has above 1.0. */
static inline int32_t te_fx_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit)
{
    const int headroom_plus_one = te_clz32((uint32_t)x);
    *num_bits_over_unit = x_integer_digits - headroom_plus_one;
    const int32_t shifted_sum_minus_one =
        (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
    return te_fx_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
}

/* tflite::log_x_for_x_greater_than_or_equal_to_1_impl: log(x), x in Q(input_integer_bits),
 * result in Q(output_integer_bits). */
static inline int32_t te_fx_log_x_for_x_greater_than_or_equal_to_1(int32_t x, int input_integer_bits,
                                                                  int output_integer_bits)
{
    const int accum_integer_bits = output_integer_bits + 1;
    const int32_t log_2 = 1488522236;
    const int32_t sqrt_sqrt_half = 1805811301;
    const int32_t sqrt_half = 1518500250;
    const int32_t one_quarter = 536870912;
    const int32_t alpha_n = 117049297;
    const int32_t alpha_d = 127690142;
    const int32_t alpha_i = 1057819769;
    const int32_t alpha_f = 638450708;
    const int32_t shifted_quarter = te_fx_mul_pot(one_quarter, -accum_integer_bits);

    /* Two candidate normalisations of x into [1/2, 1), one pre-multiplied by sqrt(1/2);
     * the one that leaves r closer to 1 wins. */
    const int z_a_headroom_plus_1 = te_clz32((uint32_t)x);
    const int32_t r_a_tmp = te_fx_mul_pot(x, z_a_headroom_plus_1 - 1);
    const int32_t r_a_raw = te_fx_mul_pot(te_srdhm(r_a_tmp, sqrt_half), 1);
    const int32_t z_a_pow_2_adj = te_fx_saturating_add(
        te_fx_mul_pot(input_integer_bits - z_a_headroom_plus_1, 31 - accum_integer_bits), shifted_quarter);

    const int32_t z_b = te_srdhm(x, sqrt_half);
    const int z_b_headroom = te_clz32((uint32_t)z_b) - 1;
    const int32_t r_b_raw = te_fx_mul_pot(x, z_b_headroom);
    const int32_t z_b_pow_2_adj = te_fx_saturating_sub(
        te_fx_mul_pot(input_integer_bits - z_b_headroom, 31 - accum_integer_bits), shifted_quarter);

    const int32_t r = r_a_raw < r_b_raw ? r_a_raw : r_b_raw;
    const int32_t z_pow_2_adj = z_a_pow_2_adj > z_b_pow_2_adj ? z_a_pow_2_adj : z_b_pow_2_adj;

    /* log(r) by a rational approximation around sqrt(sqrt(1/2)). */
    const int32_t p = te_fx_rounding_half_sum(r, sqrt_sqrt_half);
    int32_t q = te_fx_sub(r, sqrt_sqrt_half);
    q = te_fx_add(q, q);
    const int32_t common_sq = te_srdhm(q, q);
    const int32_t num = te_fx_add(te_srdhm(q, r), te_srdhm(te_srdhm(q, common_sq), alpha_n));
    const int32_t denom_minus_one_0 = te_fx_add(
        te_srdhm(p, te_fx_add(te_fx_add(alpha_i, q), te_srdhm(alpha_d, common_sq))), te_srdhm(alpha_f, q));
    const int32_t recip_denom = te_fx_one_over_one_plus_x_for_x_in_0_1(denom_minus_one_0);

    const int32_t num_scaled = te_fx_mul_pot(num, -accum_integer_bits);
    return te_fx_mul_pot(te_fx_add(te_srdhm(z_pow_2_adj, log_2), te_srdhm(num_scaled, recip_denom)),
                         accum_integer_bits - output_integer_bits);
}

/* The largest value of a softmax row: both softmax kernels subtract it before exp. */
static inline int32_t te_row_max_s8(const int8_t *row, int32_t depth)
{
    int32_t max_in_row = INT8_MIN;
    for (int32_t c = 0; c < depth; c++) {
        max_in_row = row[c] > max_in_row ? row[c] : max_in_row;
    }
    return max_in_row;
}

#endif
