/* te_requant_prepare/te_requant_apply (and so te_requant_fast), te_gemm_requant and
 * te_gemm_requant_doubled (the GEMM's output stages, te_gemm_s8.h) against te_requantize
 * (gemmlowp's arithmetic), and te_single_round_apply (FULLY_CONNECTED's) against
 * te_requantize_single_round, plus an output offset, on edge values: every shift TFLite allows,
 * offsets at the ends of int8, multipliers at and near the ends of their ranges (and their
 * negations, as SUB uses), accumulators at the int32 ends, around every power of two, a
 * dense band around zero where the roundings tie, and pseudo-random ones. Built for the
 * host (tests/test_kernel_conv_fast.py) and the simulated cores (tests/test_qemu_conv.py; on the
 * Cortex-M55 also the Helium forms, tests/test_qemu_mve.py);
 * check_requant() returns the number of mismatches, counts the comparisons in *checked and
 * reports the first mismatch through `report`. */
#include <stdint.h>

#include "te_fixedpoint.h"
#include "te_fixedpoint_mve.h"
#include "te_gemm_s8.h"

typedef void (*te_mismatch_report)(int32_t x, int32_t multiplier, int32_t shift, int32_t offset, int32_t want,
                                   int32_t got);

static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state;
}

static long checks;

static long check_one(int32_t x, int32_t multiplier, int32_t shift, int32_t offset, const te_requant_channel *q,
                      te_mismatch_report report, long mismatches)
{
    checks++;
    int32_t want = te_wrapping_add(te_requantize(x, multiplier, shift), offset);
    int32_t got = te_requant_apply(q, x);
    const int32_t right = ~shift;
    /* The output stages of the convolutions and ADD derive the start value from the shift alone
     * (both forms take right >= 1). */
    const int32_t start_hi = right >= 1 ? (int32_t)((2u * (uint32_t)offset + 1u) << right) >> 1 : 0;
    if (got == want && te_requant_is_fast(right)) {
        got = te_requant_fast(x, multiplier, 0x40000000u, start_hi, right);
    }
    if (got == want && te_gemm_requant_applies(multiplier, right)) {
        got = te_gemm_requant(x, multiplier, start_hi, right);
    }
    /* The doubled form where the generator would take it (lowering/conv.py gemm_doubled): 2 x
     * and start + h - 1 .. start + h inside int32; without the sign term, the offset -128 and
     * the results saturated. */
    const int64_t start = (int64_t)(2 * offset + 1) * ((int64_t)1 << (right & 31));
    const int64_t h = ((int64_t)x * multiplier + (1 << 30)) >> 31;
    if (got == want && te_gemm_requant_applies(multiplier, right) && x >= -(1 << 30) && x < (1 << 30) &&
        start + h - 1 >= INT32_MIN && start + h <= INT32_MAX) {
        got = te_gemm_requant_doubled(2 * x, multiplier, (int32_t)start, right, 1);
        if (got == want && offset == -128) {
            const int32_t no_sign = te_gemm_requant_doubled(2 * x, multiplier, (int32_t)start, right, 0);
            got = te_clamp(no_sign, -128, 127) == te_clamp(want, -128, 127) ? want : no_sign;
        }
    }
#if TE_USE_MVE
    /* The Helium forms (te_fixedpoint_mve.h), per-lane and scalar operands, on every lane. */
    const int32_t left = shift > 0 ? shift : 0, neg_right = shift > 0 ? 0 : shift;
    int32_t lanes[8];
    vst1q_s32(lanes, te_mve_requantize(vdupq_n_s32(x), vdupq_n_s32(multiplier), vdupq_n_s32(left),
                                       vdupq_n_s32(neg_right)));
    vst1q_s32(lanes + 4, te_mve_requantize_n(vdupq_n_s32(x), multiplier, left, neg_right));
    for (int lane = 0; lane < 8 && got == want; lane++) {
        got = te_wrapping_add(lanes[lane], offset);
    }
#endif
    /* FULLY_CONNECTED's single rounding (te_single_round_apply). */
    const te_single_round single = te_single_round_prepare(shift, offset);
    if (got == want && multiplier != INT32_MIN) {
        want = te_wrapping_add(te_requantize_single_round(x, multiplier, shift), offset);
        got = te_single_round_apply(&single, x, multiplier);
    }
    if (want != got) {
        if (mismatches == 0 && report != 0) {
            report(x, multiplier, shift, offset, want, got);
        }
        return 1;
    }
    return 0;
}

long check_requant(te_mismatch_report report, int32_t dense, int32_t randoms, long *checked)
{
    int32_t multipliers[16] = {0, 1 << 30, (1 << 30) + 1, (1 << 30) + 3, INT32_MAX, INT32_MAX - 1,
                               1518500250, 1992294767};
    for (int i = 0; i < 8; i++) {
        multipliers[8 + i] = -multipliers[i];
    }
    int32_t edges[330];
    int n = 0;
    edges[n++] = INT32_MIN;
    edges[n++] = INT32_MAX;
    for (int k = 0; k < 32; k++) {
        for (int32_t d = -2; d <= 2; d++) {
            const int64_t v = ((int64_t)1 << k) + d;
            edges[n++] = (int32_t)v;
            edges[n++] = (int32_t)-v;
        }
    }
    edges[n++] = INT32_MIN + 1;
    edges[n++] = INT32_MAX - 1;
    const int32_t offsets[5] = {-128, 0, 127, -1, 33};
    long mismatches = 0;
    checks = 0;
    uint32_t state = 12345u;
    for (int32_t shift = -31; shift <= 30; shift++) {
        for (int mi = 0; mi < 16 + randoms; mi++) {
            int32_t m = mi < 16 ? multipliers[mi] : (int32_t)((next_random(&state) >> 1) | (1u << 30));
            if (mi >= 16 && (mi & 1)) {
                m = -m;
            }
            const int32_t offset = offsets[(mi + shift + 31) % 5];
            const te_requant_channel q = te_requant_prepare(m, shift, offset);
            for (int i = 0; i < n; i++) {
                mismatches += check_one(edges[i], m, shift, offset, &q, report, mismatches);
            }
            for (int32_t x = -dense; x <= dense; x++) {
                mismatches += check_one(x, m, shift, offset, &q, report, mismatches);
            }
            for (int i = 0; i < randoms; i++) {
                const int32_t x = (int32_t)next_random(&state);
                mismatches += check_one(x, m, shift, offset, &q, report, mismatches);
                mismatches += check_one(x >> (i & 31), m, shift, offset, &q, report, mismatches);
            }
        }
    }
    *checked = checks;
    return mismatches;
}
