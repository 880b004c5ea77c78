/* The matrix-multiply core shared by the convolution kernels that run as a GEMM (pointwise,
 * and im2col columns of any window): int8 dot products of two input columns with two filter
 * rows at once, each loaded word used twice, and the per-channel output stage. */
#ifndef TE_GEMM_S8_H
#define TE_GEMM_S8_H

#include <stdint.h>
#include <string.h>

#include "te_fixedpoint.h"
#include "tinyengine.h"

#if TE_USE_DSP
#include <arm_acle.h>

static inline uint32_t te_load4(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* SXTB16 of x rotated right by 8 (bytes 1 and 3), one instruction: GCC 12 has no __ror and
 * does not fold a rotate into __sxtb16's operand. */
static inline uint32_t te_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
#endif

/* acc[0..3] += sum(a[i] * m[i]) and the same for (a, n), (b, m), (b, n), i < len, wrapping
 * in int32 (the accumulators start from the bias, folded with the input offset). */
static inline void te_dot_2x2_s8(const int8_t *a, const int8_t *b, const int8_t *m, const int8_t *n,
                                 int32_t len, int32_t acc[4])
{
    int32_t am = acc[0], an = acc[1], bm = acc[2], bn = acc[3];
#if TE_USE_DSP
    for (int32_t i = len >> 2; i > 0; i--) {
        const uint32_t xa = te_load4(a), xb = te_load4(b);
        a += 4;
        b += 4;
        const uint32_t xa_even = __sxtb16(xa), xa_odd = te_sxtb16_ror8(xa);
        const uint32_t xb_even = __sxtb16(xb), xb_odd = te_sxtb16_ror8(xb);
        uint32_t w = te_load4(m);
        m += 4;
        uint32_t w_even = __sxtb16(w), w_odd = te_sxtb16_ror8(w);
        am = (int32_t)__smlad(xa_even, w_even, (uint32_t)am);
        am = (int32_t)__smlad(xa_odd, w_odd, (uint32_t)am);
        bm = (int32_t)__smlad(xb_even, w_even, (uint32_t)bm);
        bm = (int32_t)__smlad(xb_odd, w_odd, (uint32_t)bm);
        w = te_load4(n);
        n += 4;
        w_even = __sxtb16(w);
        w_odd = te_sxtb16_ror8(w);
        an = (int32_t)__smlad(xa_even, w_even, (uint32_t)an);
        an = (int32_t)__smlad(xa_odd, w_odd, (uint32_t)an);
        bn = (int32_t)__smlad(xb_even, w_even, (uint32_t)bn);
        bn = (int32_t)__smlad(xb_odd, w_odd, (uint32_t)bn);
    }
    len &= 3;
#endif
    for (int32_t i = 0; i < len; i++) {
        const int32_t xa = a[i], xb = b[i];
        const int32_t wm = m[i], wn = n[i];
        am += xa * wm;
        an += xa * wn;
        bm += xb * wm;
        bn += xb * wn;
    }
    acc[0] = am;
    acc[1] = an;
    acc[2] = bm;
    acc[3] = bn;
}

/* The output stage of a convolution: v (requantised, with the output offset) clamped to the
 * activation range. Full_range (a constant at every call: the range is all of int8, as for
 * most layers, ReLU6 included) makes the clamp one SSAT on the DSP path. */
static inline int8_t te_conv_clamp(int32_t v, int32_t act_min, int32_t act_max, int full_range)
{
#if TE_USE_DSP
    if (full_range) {
        return (int8_t)__ssat(v, 8);
    }
#else
    (void)full_range;
#endif
    return (int8_t)te_clamp(v, act_min, act_max);
}

/* Outside the channel loop so that the rare shifts do not crowd its registers. */
static void __attribute__((noinline, unused)) te_requant_pair_general(int32_t multiplier, int32_t shift,
                                                                      int32_t offset, int32_t *x)
{
    const te_requant_channel q = te_requant_prepare(multiplier, shift, offset);
    x[0] = te_requant_apply(&q, x[0]);
    x[1] = te_requant_apply(&q, x[1]);
}

/* Channels [oc, oc + count) of two pixels from their accumulators (biased), pixel a's and
 * b's interleaved. Out_b may equal out_a. Kept apart from the dot products so that neither
 * loop's values crowd the other's registers. Full_range is a constant at every call, and
 * the function is always inlined so that each caller gets its own specialised loop. */
static inline __attribute__((always_inline)) void te_conv_store_pair(const te_conv_params *p, int32_t oc,
                                                                     int32_t count, int32_t *acc,
                                                                     int8_t *out_a, int8_t *out_b, int full_range)
{
    const int32_t *multiplier = p->multiplier + oc;
    const int8_t *shift = p->shift + oc;
    const int32_t offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    /* start_hi = 2^(right-1) + offset 2^right = ((2 offset + 1) << right) >> 1. */
    const uint32_t odd_offset = 2u * (uint32_t)offset + 1u;
    for (int32_t j = 0; j < count; j++, acc += 2) {
        const int32_t m = multiplier[j];
        const int32_t right = ~(int32_t)shift[j]; /* e - 1 where shift <= 0 */
        int32_t va, vb;
        if (te_requant_is_fast(right)) {
            const int32_t start_hi = (int32_t)(odd_offset << right) >> 1;
            va = te_requant_fast(acc[0], m, start_hi, right);
            vb = te_requant_fast(acc[1], m, start_hi, right);
        } else {
            te_requant_pair_general(m, shift[j], offset, acc);
            va = acc[0];
            vb = acc[1];
        }
        out_b[j] = te_conv_clamp(vb, act_min, act_max, full_range);
        out_a[j] = te_conv_clamp(va, act_min, act_max, full_range);
    }
}

/* Output channels per group: 2 x 16 accumulators on the stack. */
#define TE_GEMM_GROUP 16

/* Every output channel of two pixels whose inputs are the int8 columns a and b (len bytes
 * each; b == a for a last odd pixel, whose outputs are then written twice) against filter
 * rows of len bytes, from p->bias (folded with the input offset: never NULL here): two
 * pixels by two channels per dot-product block, so each loaded input and weight is used
 * twice; a group's accumulators wait on the stack, then go through the output stage
 * together. Always inlined, with full_range constant. */
static inline __attribute__((always_inline)) void te_gemm_pair(const te_conv_params *p, const int8_t *a,
                                                               const int8_t *b, int32_t len, int8_t *out_a,
                                                               int8_t *out_b, int full_range)
{
    const int32_t cout = p->out_c;
    const int8_t *m = p->filter;
    const int32_t *bias = p->bias;
    for (int32_t oc = 0; oc < cout; oc += TE_GEMM_GROUP) {
        const int32_t count = cout - oc < TE_GEMM_GROUP ? cout - oc : TE_GEMM_GROUP;
        int32_t acc[2 * TE_GEMM_GROUP];
        for (int32_t j = 0; j < count; j += 2) {
            const int has_n = j + 1 < count;
            const int8_t *n = has_n ? m + len : m;
            const int32_t bias_m = bias[oc + j], bias_n = bias[oc + j + has_n];
            int32_t block[4] = {bias_m, bias_n, bias_m, bias_n};
            te_dot_2x2_s8(a, b, m, n, len, block);
            acc[2 * j] = block[0];
            acc[2 * j + 1] = block[2];
            acc[2 * j + 2] = block[1];
            acc[2 * j + 3] = block[3];
            m = n + len;
        }
        te_conv_store_pair(p, oc, count, acc, out_a + oc, out_b + oc, full_range);
    }
}

#endif
