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

/* The same with a 16-bit offset added to both halves (SXTAB16). */
static inline uint32_t te_sxtab16_ror8(uint32_t offset2, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(offset2), "r"(x));
    return r;
}
#endif

/* acc[0..3] += sum((a[i] + offset) * m[i]) and the same for (a, n), (b, m), (b, n), i < len,
 * wrapping in int32 (the accumulators start from the bias). With_offset is a constant at every call (kernels with a folded bias pass 0), so
 * the inlined loop carries no dead offset arithmetic. */
static inline void te_dot_2x2_s8(const int8_t *a, const int8_t *b, const int8_t *m, const int8_t *n,
                                 int32_t len, int with_offset, int32_t offset, int32_t acc[4])
{
    int32_t am = acc[0], an = acc[1], bm = acc[2], bn = acc[3];
#if TE_USE_DSP
    const uint32_t offset2 = ((uint32_t)offset & 0xFFFFu) * 0x10001u;
    for (int32_t i = len >> 2; i > 0; i--) {
        const uint32_t xa = te_load4(a), xb = te_load4(b);
        a += 4;
        b += 4;
        const uint32_t xa_even = with_offset ? __sxtab16(offset2, xa) : __sxtb16(xa);
        const uint32_t xa_odd = with_offset ? te_sxtab16_ror8(offset2, xa) : te_sxtb16_ror8(xa);
        const uint32_t xb_even = with_offset ? __sxtab16(offset2, xb) : __sxtb16(xb);
        const uint32_t xb_odd = with_offset ? te_sxtab16_ror8(offset2, xb) : te_sxtb16_ror8(xb);
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
        const int32_t xa = a[i] + (with_offset ? offset : 0), xb = b[i] + (with_offset ? offset : 0);
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

/* The output stage of a convolution for one channel: requantised with the output offset
 * (te_requant_apply), clamped to the activation range. Full_range (a constant at every call:
 * the range is all of int8, as for most layers, ReLU6 included) makes the clamp one SSAT
 * on the DSP path. */
static inline int32_t te_conv_output(const te_requant_channel *q, int32_t acc, int32_t act_min, int32_t act_max,
                                     int full_range)
{
    const int32_t v = te_requant_apply(q, acc);
#if TE_USE_DSP
    if (full_range) {
        return __ssat(v, 8);
    }
#else
    (void)full_range;
#endif
    return te_clamp(v, act_min, act_max);
}

/* Channels [oc, oc + count) of two pixels from their accumulators (biased), pixel a's and
 * b's interleaved. Out_b may equal out_a. Kept apart from the dot products so that neither
 * loop's values crowd the other's registers. Full_range is a constant at every call, and
 * the function is always inlined so that each caller gets its own specialised loop. */
static inline __attribute__((always_inline)) void te_conv_store_pair(const te_conv_params *p, int32_t oc,
                                                                     int32_t count, const int32_t *acc,
                                                                     int8_t *out_a, int8_t *out_b, int full_range)
{
    const int32_t *multiplier = p->multiplier + oc;
    const int8_t *shift = p->shift + oc;
    const int32_t offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    for (int32_t j = 0; j < count; j++) {
        const te_requant_channel q = te_requant_prepare(multiplier[j], shift[j], offset);
        const int32_t va = te_conv_output(&q, acc[2 * j], act_min, act_max, full_range);
        const int32_t vb = te_conv_output(&q, acc[2 * j + 1], act_min, act_max, full_range);
        out_b[j] = (int8_t)vb;
        out_a[j] = (int8_t)va;
    }
}

#endif
