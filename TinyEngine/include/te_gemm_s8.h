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

#if TE_USE_DSP
/* One 4-byte chunk of te_dot_rows: SXTB16 both halves of the inputs and weights, 8 SMLAD. */
static inline __attribute__((always_inline)) void te_dot4(const int8_t **x, const int8_t **y, const int8_t **v,
                                                          int32_t n_chunk, int32_t chunk_step, int one_pixel,
                                                          uint32_t *am, uint32_t *bm, uint32_t *an, uint32_t *bn)
{
    const uint32_t xa = te_load4(*x);
    const uint32_t xa_odd = te_sxtb16_ror8(xa), xa_even = __sxtb16(xa);
    const uint32_t xb = one_pixel ? 0 : te_load4(*y);
    const uint32_t xb_odd = one_pixel ? 0 : te_sxtb16_ror8(xb), xb_even = one_pixel ? 0 : __sxtb16(xb);
    uint32_t wv = te_load4(*v);
    uint32_t w_odd = te_sxtb16_ror8(wv), w_even = __sxtb16(wv);
    *am = (uint32_t)__smlad(xa_even, w_even, (int32_t)*am);
    *am = (uint32_t)__smlad(xa_odd, w_odd, (int32_t)*am);
    if (!one_pixel) {
        *bm = (uint32_t)__smlad(xb_even, w_even, (int32_t)*bm);
        *bm = (uint32_t)__smlad(xb_odd, w_odd, (int32_t)*bm);
    }
    wv = te_load4(*v + n_chunk);
    w_odd = te_sxtb16_ror8(wv);
    w_even = __sxtb16(wv);
    *an = (uint32_t)__smlad(xa_even, w_even, (int32_t)*an);
    *an = (uint32_t)__smlad(xa_odd, w_odd, (int32_t)*an);
    if (!one_pixel) {
        *bn = (uint32_t)__smlad(xb_even, w_even, (int32_t)*bn);
        *bn = (uint32_t)__smlad(xb_odd, w_odd, (int32_t)*bn);
    }
    *x += 4;
    *y += 4;
    *v += chunk_step;
    /* The next chunk's loads wait for these pointers: hoisted above this chunk's SMLADs, they
     * run GCC out of registers (5% more instructions in te_conv_1x1_s8 on vww). */
    __asm__("" : "+r"(*x), "+r"(*y), "+r"(*v));
}
#endif

/* Dot products of two input columns a and b (len bytes) with `rows` filter row pairs (m, n),
 * from the bias (folded with the input offset) and wrapping in int32, into acc: a.m, b.m,
 * a.n, b.n for each pair. Each pair is read from w in 4-byte chunks, m's at w and n's at
 * w + n_chunk, w advancing by chunk_step; then the len % 4 tail bytes, m's at w and n's at
 * w + n_tail; the next pair starts 2 * len bytes after this one. Layouts (constants):
 *   interleaved by the generator (m0..3 n0..3 m4..7 n4..7 ... m tail, n tail): n_chunk = 4,
 *   chunk_step = 8, n_tail = len % 4;
 *   single (one last row, n = m, rows = 1): 0, 4, 0.
 * One_pixel (a last odd pixel, b == a): b's products are not computed, b's results are a's. */
static inline __attribute__((always_inline)) void te_dot_rows(const int8_t *a, const int8_t *b, const int8_t *w,
                                                              int32_t len, int32_t rows, const int32_t *bias,
                                                              int32_t *acc, int32_t n_chunk, int32_t chunk_step,
                                                              int32_t n_tail, int single, int one_pixel)
{
    for (; rows > 0; rows--, bias += 2, acc += 4) {
        /* Unsigned: the sums wrap like the hardware's (biases near INT32_MIN on dead channels). */
        uint32_t am = (uint32_t)bias[0], an = (uint32_t)bias[single ? 0 : 1];
        uint32_t bm = am, bn = an;
        const int8_t *x = a, *y = b, *v = w;
#if TE_USE_DSP
        /* Two chunks per iteration, halving the loop's own instructions. */
        for (int32_t i = len >> 3; i > 0; i--) {
            te_dot4(&x, &y, &v, n_chunk, chunk_step, one_pixel, &am, &bm, &an, &bn);
            te_dot4(&x, &y, &v, n_chunk, chunk_step, one_pixel, &am, &bm, &an, &bn);
        }
        if (len & 4) {
            te_dot4(&x, &y, &v, n_chunk, chunk_step, one_pixel, &am, &bm, &an, &bn);
        }
#else
        for (int32_t i = len >> 2; i > 0; i--) {
#pragma GCC unroll 4
            for (int32_t k = 0; k < 4; k++) {
                const int32_t wm = v[k], wn = v[n_chunk + k];
                am += (uint32_t)(x[k] * wm);
                an += (uint32_t)(x[k] * wn);
                if (!one_pixel) {
                    bm += (uint32_t)(y[k] * wm);
                    bn += (uint32_t)(y[k] * wn);
                }
            }
            x += 4;
            y += 4;
            v += chunk_step;
        }
#endif
        for (int32_t k = 0; k < (len & 3); k++) {
            const int32_t wm = v[k], wn = v[n_tail + k];
            am += (uint32_t)(x[k] * wm);
            an += (uint32_t)(x[k] * wn);
            if (!one_pixel) {
                bm += (uint32_t)(y[k] * wm);
                bn += (uint32_t)(y[k] * wn);
            }
        }
        acc[0] = (int32_t)am;
        acc[1] = (int32_t)(one_pixel ? am : bm);
        acc[2] = (int32_t)an;
        acc[3] = (int32_t)(one_pixel ? an : bn);
        w += 2 * len;
    }
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

/* Whether every channel's shift takes te_requant_fast (checked once per call, so that the
 * output loop of such layers carries no other path). */
static inline int te_requant_all_fast(const int8_t *shift, int32_t count)
{
    for (int32_t j = 0; j < count; j++) {
        if (!te_requant_is_fast(~(int32_t)shift[j])) {
            return 0;
        }
    }
    return 1;
}

/* Channels [0, count) of two pixels from their accumulators (biased), pixel a's and b's
 * interleaved in acc, written to out[j] and out[j + b_offset] (b_offset 0 for a last odd
 * pixel). Multiplier and shift point at channel 0 of the group. Kept apart from the dot
 * products so that neither loop's values crowd the other's registers; each kernel makes
 * its own instances (te_conv_store_fn) with full_range and all_fast (te_requant_all_fast)
 * constant. */
static inline __attribute__((always_inline)) void te_conv_store_pair(const te_conv_params *p,
                                                                     const int32_t *multiplier,
                                                                     const int8_t *shift, int32_t count,
                                                                     const int32_t *acc, int8_t *out,
                                                                     int32_t b_offset, int full_range, int all_fast)
{
    const int32_t offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    /* start_hi = 2^(right-1) + offset 2^right = ((2 offset + 1) << right) >> 1. */
    const uint32_t odd_offset = 2u * (uint32_t)offset + 1u;
    for (const int8_t *end = shift + count; shift < end; shift++, acc += 2, out++) {
        const int32_t m = *multiplier++;
        int32_t va, vb;
        if (all_fast) {
            const int32_t right = ~(int32_t)*shift; /* e - 1, shift <= 0 */
            const int32_t start_hi = (int32_t)(odd_offset << right) >> 1;
            va = te_requant_fast(acc[0], m, 0x40000000u, start_hi, right);
            vb = te_requant_fast(acc[1], m, 0x40000000u, start_hi, right);
        } else {
            const te_requant_channel q = te_requant_prepare(m, *shift, offset);
            va = te_requant_apply(&q, acc[0]);
            vb = te_requant_apply(&q, acc[1]);
        }
        out[0] = te_conv_clamp(va, act_min, act_max, full_range);
        out[b_offset] = te_conv_clamp(vb, act_min, act_max, full_range);
    }
}

typedef void (*te_conv_store_fn)(const te_conv_params *p, const int32_t *multiplier, const int8_t *shift,
                                 int32_t count, const int32_t *acc, int8_t *out, int32_t b_offset);

static void __attribute__((noinline)) te_conv_store_fast_full_range(const te_conv_params *p, const int32_t *m,
                                                                    const int8_t *shift, int32_t count,
                                                                    const int32_t *acc, int8_t *out, int32_t b_offset)
{
    te_conv_store_pair(p, m, shift, count, acc, out, b_offset, 1, 1);
}

static void __attribute__((noinline)) te_conv_store_fast_clamped(const te_conv_params *p, const int32_t *m,
                                                                 const int8_t *shift, int32_t count,
                                                                 const int32_t *acc, int8_t *out, int32_t b_offset)
{
    te_conv_store_pair(p, m, shift, count, acc, out, b_offset, 0, 1);
}

static void __attribute__((noinline)) te_conv_store_full_range(const te_conv_params *p, const int32_t *m,
                                                               const int8_t *shift, int32_t count,
                                                               const int32_t *acc, int8_t *out, int32_t b_offset)
{
    te_conv_store_pair(p, m, shift, count, acc, out, b_offset, 1, 0);
}

static void __attribute__((noinline)) te_conv_store_clamped(const te_conv_params *p, const int32_t *m,
                                                            const int8_t *shift, int32_t count, const int32_t *acc,
                                                            int8_t *out, int32_t b_offset)
{
    te_conv_store_pair(p, m, shift, count, acc, out, b_offset, 0, 0);
}

/* The output stage for this call's layer. */
static inline te_conv_store_fn te_conv_store_for(const te_conv_params *p)
{
    const int full_range = p->act_min <= -128 && p->act_max >= 127;
    if (te_requant_all_fast(p->shift, p->out_c)) {
        return full_range ? te_conv_store_fast_full_range : te_conv_store_fast_clamped;
    }
    return full_range ? te_conv_store_full_range : te_conv_store_clamped;
}

typedef void (*te_dot_fn)(const int8_t *a, const int8_t *b, const int8_t *w, int32_t len, int32_t rows,
                          const int32_t *bias, int32_t *acc);

/* A kernel's te_dot_rows instances: row pairs and a single row, for two pixels and for one. */
typedef struct {
    te_dot_fn pairs, single, pairs_one_pixel, single_one_pixel;
} te_dot_fns;

/* GCC's first scheduling pass hoists the loads of the SMLAD loop's next chunk and runs out of
 * registers (on vww, 20% more instructions in te_conv_1x1_s8 on the M4, 3% on the M7); the
 * portable loop is better scheduled. */
#if TE_USE_DSP && defined(__GNUC__) && !defined(__clang__)
#define TE_DOT_ATTRIBUTES __attribute__((noinline, optimize("no-schedule-insns")))
#else
#define TE_DOT_ATTRIBUTES __attribute__((noinline))
#endif

/* Defines `table`, a kernel's te_dot_rows instances for its filter layout (te_dot_rows'
 * n_chunk, chunk_step and n_tail for row pairs; a last single row is read as one). */
#define TE_DOT_FN(name, n_chunk, chunk_step, n_tail, single, one_pixel)                                       \
    static void TE_DOT_ATTRIBUTES name(const int8_t *a, const int8_t *b, const int8_t *w, int32_t len, int32_t rows, \
                                       const int32_t *bias, int32_t *acc)                                      \
    {                                                                                                          \
        te_dot_rows(a, b, w, len, rows, bias, acc, n_chunk, chunk_step, n_tail, single, one_pixel);            \
    }
#define TE_DOT_FNS(table, n_chunk, chunk_step, n_tail)                                  \
    TE_DOT_FN(table##_pairs, n_chunk, chunk_step, n_tail, 0, 0)                         \
    TE_DOT_FN(table##_single, 0, 4, 0, 1, 0)                                            \
    TE_DOT_FN(table##_pairs_one_pixel, n_chunk, chunk_step, n_tail, 0, 1)               \
    TE_DOT_FN(table##_single_one_pixel, 0, 4, 0, 1, 1)                                  \
    static const te_dot_fns table = {table##_pairs, table##_single, table##_pairs_one_pixel, \
                                     table##_single_one_pixel};

/* Every output channel of two pixels whose inputs are the int8 columns a and b (len bytes
 * each; b == a for a last odd pixel, whose outputs are then written twice) against filter
 * rows of len bytes (see te_dot_rows for the layouts), from p->bias (folded with the input
 * offset: never NULL here): two pixels by two channels per dot-product block, so each
 * loaded input and weight is used twice; a group's accumulators wait in acc (2 x group
 * values, group even), then go through the output stage together: the larger the group, the
 * fewer calls, the more stack. Dot holds the caller's te_dot_rows instances, store is
 * te_conv_store_for(p) (each a function of its own, keeping its registers to itself). */
static inline void te_gemm_pair(const te_conv_params *p, const int8_t *a, const int8_t *b, int32_t len,
                                int8_t *out_a, const int8_t *out_b, const te_dot_fns *dot, te_conv_store_fn store,
                                int32_t group, int32_t *acc)
{
    const int32_t cout = p->out_c;
    const int8_t *w = p->filter;
    const te_dot_fn pairs_fn = a == b ? dot->pairs_one_pixel : dot->pairs;
    const te_dot_fn single_fn = a == b ? dot->single_one_pixel : dot->single;
    for (int32_t oc = 0; oc < cout; oc += group) {
        const int32_t count = cout - oc < group ? cout - oc : group;
        const int32_t pairs = count >> 1;
        pairs_fn(a, b, w, len, pairs, p->bias + oc, acc);
        w += 2 * len * pairs;
        if (count & 1) {
            single_fn(a, b, w, len, 1, p->bias + oc + count - 1, acc + 2 * count - 2);
            w += len;
        }
        store(p, p->multiplier + oc, p->shift + oc, count, acc, out_a + oc, (int32_t)(out_b - out_a));
    }
}

#endif
