/* The Helium (MVE) GEMM of te_conv_1x1_s8 and of te_conv_s8's im2col path (te_gemm_s8_mve.h).
 *
 * The filter is the one te_dot_rows reads (lowering/conv.py gemm_filter_layout): rows in pairs
 * (m, n), each pair interleaved in 4-byte chunks (m0..3 n0..3 m4..7 n4..7 ...), then m's and n's
 * len % 4 tail bytes; an odd last row as is. A step takes 16 channels of a pair, 32 bytes: where
 * the pairs are word-aligned one VLD2 de-interleaves its words into m's 16 bytes and n's,
 * elsewhere two byte gathers (VLDRB with offsets) pick them. The last len % 16 bytes of a pair
 * (up to three chunks and the tail bytes) are gathered the same way with per-layer offsets,
 * against input vectors loaded once per pixel with the lanes past len zeroed. Each of the four
 * dot products of a step (rows m, n times pixels a, b) is one VMLADAVA accumulating the int8
 * products into a general register, wrapping like the hardware TFLite runs on.
 *
 * Access order: as te_gemm_pair's (both pixels' inputs read group of channels by group while
 * that group's outputs are written), so memory/overlap.py's pixel_block_gap covers it. */
#include "te_gemm_s8_mve.h"

#include "te_fixedpoint_mve.h"

#if TE_USE_MVE
#include <stdint.h>

/* Output channels per group: 2 x 128 bytes of accumulators. */
#define GROUP 32

void te_gemm_mve_prepare(te_gemm_mve *g, const te_conv_params *p, int32_t len)
{
    g->len = len;
    g->chunks = len >> 4;
    g->tail = len & 15;
    /* Pairs of 2 len bytes from a word-aligned filter. */
    g->aligned = ((uintptr_t)p->filter & 3) == 0 && (len & 1) == 0;
    const int32_t chunk_bytes = g->tail & ~3, tail_bytes = g->tail & 3;
    uint8_t m[16], n[16];
    for (int32_t i = 0; i < 16; i++) {
        if (i >= g->tail) {
            m[i] = n[i] = 0;
        } else if (i < chunk_bytes) {
            m[i] = (uint8_t)(i + (i & ~3));
            n[i] = (uint8_t)(m[i] + 4);
        } else {
            m[i] = (uint8_t)(chunk_bytes + i); /* after both rows' chunks */
            n[i] = (uint8_t)(m[i] + tail_bytes);
        }
    }
    g->tail_m = vldrbq_u8(m);
    g->tail_n = vldrbq_u8(n);
    g->tail_lanes = vctp8q((uint32_t)g->tail);
}

/* Rows m's and n's bytes of one 16-channel step of a pair. */
static inline __attribute__((always_inline)) void load_pair(const int8_t *w, int aligned, int8x16_t *m, int8x16_t *n)
{
    if (aligned) {
        const int32x4x2_t v = vld2q_s32((const int32_t *)(const void *)w);
        *m = vreinterpretq_s8_s32(v.val[0]);
        *n = vreinterpretq_s8_s32(v.val[1]);
    } else {
        /* m's chunks at 0, 8, 16 and 24: lane i at i + (i & 12). */
        const uint8x16_t lane = vidupq_n_u8(0, 1);
        const uint8x16_t offsets = vaddq_u8(lane, vandq_u8(lane, vdupq_n_u8(12)));
        *m = vldrbq_gather_offset_s8(w, offsets);
        *n = vldrbq_gather_offset_s8(w, vaddq_n_u8(offsets, 4));
    }
}

/* `pairs` row pairs from w against columns a and b (tail_a and tail_b: their last len % 16 bytes,
 * zero past them), from the biases, into acc_a and acc_b (pixel a's and b's channels). One_pixel
 * (b == a): b's products are not computed, acc_b is not written. */
static inline __attribute__((always_inline)) void dot_pairs(const te_gemm_mve *g, const int8_t *a, const int8_t *b,
                                                           int8x16_t tail_a, int8x16_t tail_b, const int8_t *w,
                                                           int32_t pairs, const int32_t *bias, int32_t *acc_a,
                                                           int32_t *acc_b, int aligned, int one_pixel)
{
    /* Read once: the stores to acc_a and acc_b may alias *g as far as the compiler knows. */
    const int32_t chunks = g->chunks, tail = g->tail;
    const uint8x16_t tail_m = g->tail_m, tail_n = g->tail_n;
    for (; pairs > 0; pairs--, bias += 2, acc_a += 2, acc_b += 2) {
        int32_t am = bias[0], an = bias[1], bm = am, bn = an;
        const int8_t *x = a, *y = b;
        for (int32_t i = chunks; i > 0; i--, w += 32, x += 16, y += 16) {
            int8x16_t m, n;
            load_pair(w, aligned, &m, &n);
            const int8x16_t xa = vldrbq_s8(x);
            am = vmladavaq_s8(am, xa, m);
            an = vmladavaq_s8(an, xa, n);
            if (!one_pixel) {
                const int8x16_t xb = vldrbq_s8(y);
                bm = vmladavaq_s8(bm, xb, m);
                bn = vmladavaq_s8(bn, xb, n);
            }
        }
        if (tail) {
            const int8x16_t m = vldrbq_gather_offset_s8(w, tail_m), n = vldrbq_gather_offset_s8(w, tail_n);
            am = vmladavaq_s8(am, tail_a, m);
            an = vmladavaq_s8(an, tail_a, n);
            if (!one_pixel) {
                bm = vmladavaq_s8(bm, tail_b, m);
                bn = vmladavaq_s8(bn, tail_b, n);
            }
            w += 2 * tail;
        }
        acc_a[0] = am;
        acc_a[1] = an;
        if (!one_pixel) {
            acc_b[0] = bm;
            acc_b[1] = bn;
        }
    }
}

/* The odd last row, len bytes as they are. */
static inline __attribute__((always_inline)) void dot_single(const te_gemm_mve *g, const int8_t *a, const int8_t *b,
                                                            int8x16_t tail_a, int8x16_t tail_b, const int8_t *w,
                                                            const int32_t *bias, int32_t *acc_a, int32_t *acc_b,
                                                            int one_pixel)
{
    int32_t am = *bias, bm = am;
    for (int32_t i = g->chunks; i > 0; i--, w += 16, a += 16, b += 16) {
        const int8x16_t m = vldrbq_s8(w);
        am = vmladavaq_s8(am, vldrbq_s8(a), m);
        if (!one_pixel) {
            bm = vmladavaq_s8(bm, vldrbq_s8(b), m);
        }
    }
    const int8x16_t m = vldrbq_z_s8(w, g->tail_lanes);
    *acc_a = vmladavaq_s8(am, tail_a, m);
    if (!one_pixel) {
        *acc_b = vmladavaq_s8(bm, tail_b, m);
    }
}

typedef void (*pairs_fn)(const te_gemm_mve *g, const int8_t *a, const int8_t *b, int8x16_t tail_a,
                         int8x16_t tail_b, const int8_t *w, int32_t pairs, const int32_t *bias, int32_t *acc_a,
                         int32_t *acc_b);
typedef void (*single_fn)(const te_gemm_mve *g, const int8_t *a, const int8_t *b, int8x16_t tail_a,
                          int8x16_t tail_b, const int8_t *w, const int32_t *bias, int32_t *acc_a, int32_t *acc_b);

#define PAIRS_FN(name, aligned, one_pixel)                                                                      \
    static void __attribute__((noinline)) name(const te_gemm_mve *g, const int8_t *a, const int8_t *b,           \
                                               int8x16_t tail_a, int8x16_t tail_b, const int8_t *w,               \
                                               int32_t pairs, const int32_t *bias, int32_t *acc_a, int32_t *acc_b) \
    {                                                                                                           \
        dot_pairs(g, a, b, tail_a, tail_b, w, pairs, bias, acc_a, acc_b, aligned, one_pixel);                   \
    }
PAIRS_FN(pairs_aligned, 1, 0)
PAIRS_FN(pairs_aligned_one_pixel, 1, 1)
PAIRS_FN(pairs_gathered, 0, 0)
PAIRS_FN(pairs_gathered_one_pixel, 0, 1)

static void __attribute__((noinline)) single_two_pixels(const te_gemm_mve *g, const int8_t *a, const int8_t *b,
                                                        int8x16_t tail_a, int8x16_t tail_b, const int8_t *w,
                                                        const int32_t *bias, int32_t *acc_a, int32_t *acc_b)
{
    dot_single(g, a, b, tail_a, tail_b, w, bias, acc_a, acc_b, 0);
}

static void __attribute__((noinline)) single_one_pixel(const te_gemm_mve *g, const int8_t *a, const int8_t *b,
                                                       int8x16_t tail_a, int8x16_t tail_b, const int8_t *w,
                                                       const int32_t *bias, int32_t *acc_a, int32_t *acc_b)
{
    dot_single(g, a, b, tail_a, tail_b, w, bias, acc_a, acc_b, 1);
}

/* The output stage of four channels (the lanes of `lanes`; full: all four) of both pixels. */
static inline __attribute__((always_inline)) void store4(const int32_t *multiplier, const int8_t *shift,
                                                        const int32_t *acc_a, const int32_t *acc_b, int8_t *out_a,
                                                        int8_t *out_b, int32x4_t offset, int32x4_t lo, int32x4_t hi,
                                                        mve_pred16_t lanes, int full, int one_pixel)
{
    const int32x4_t m = full ? vldrwq_s32(multiplier) : vldrwq_z_s32(multiplier, lanes);
    const int32x4_t s = full ? vldrbq_s32(shift) : vldrbq_z_s32(shift, lanes);
    /* min(s, 0) and max(s, 0) without a register of zeros (all eight are taken). */
    const int32x4_t right = vandq_s32(s, vshrq_n_s32(s, 31)), left = vsubq_s32(s, right);
    for (int pixel = 0; pixel < (one_pixel ? 1 : 2); pixel++) {
        int32x4_t v = te_mve_requantize(vldrwq_s32(pixel ? acc_b : acc_a), m, left, right);
        v = vminq_s32(vmaxq_s32(vaddq_s32(v, offset), lo), hi);
        int8_t *out = pixel ? out_b : out_a;
        if (full) {
            vstrbq_s32(out, v);
        } else {
            vstrbq_p_s32(out, v, lanes);
        }
    }
}

/* Channels [oc, oc + count) of both pixels from acc_a and acc_b (channel oc first). */
static inline __attribute__((always_inline)) void store_group(const te_conv_params *p, int32_t oc, int32_t count,
                                                             const int32_t *acc_a, const int32_t *acc_b,
                                                             int8_t *out_a, int8_t *out_b, int one_pixel)
{
    /* Read once: the int8 stores below may alias *p as far as the compiler knows. */
    const int32_t *multiplier = p->multiplier + oc;
    const int8_t *shift = p->shift + oc;
    const int32x4_t offset = vdupq_n_s32(p->output_offset), lo = vdupq_n_s32(p->act_min);
    const int32x4_t hi = vdupq_n_s32(p->act_max);
    out_a += oc;
    out_b += oc;
    int32_t j = 0;
    for (; j + 4 <= count; j += 4) {
        store4(multiplier + j, shift + j, acc_a + j, acc_b + j, out_a + j, out_b + j, offset, lo, hi, 0xFFFF, 1,
               one_pixel);
    }
    if (j < count) {
        store4(multiplier + j, shift + j, acc_a + j, acc_b + j, out_a + j, out_b + j, offset, lo, hi,
               vctp32q((uint32_t)(count - j)), 0, one_pixel);
    }
}

typedef void (*store_fn)(const te_conv_params *p, int32_t oc, int32_t count, const int32_t *acc_a,
                         const int32_t *acc_b, int8_t *out_a, int8_t *out_b);

static void __attribute__((noinline)) store_two_pixels(const te_conv_params *p, int32_t oc, int32_t count,
                                                       const int32_t *acc_a, const int32_t *acc_b, int8_t *out_a,
                                                       int8_t *out_b)
{
    store_group(p, oc, count, acc_a, acc_b, out_a, out_b, 0);
}

static void __attribute__((noinline)) store_one_pixel(const te_conv_params *p, int32_t oc, int32_t count,
                                                      const int32_t *acc_a, const int32_t *acc_b, int8_t *out_a,
                                                      int8_t *out_b)
{
    store_group(p, oc, count, acc_a, acc_b, out_a, out_b, 1);
}

void te_gemm_mve_pair(const te_gemm_mve *g, const te_conv_params *p, const int8_t *a, const int8_t *b,
                      int8_t *out_a, int8_t *out_b)
{
    /* Padded to whole vectors: the output stage reads four lanes, stores the valid ones. */
    int32_t acc_a[GROUP], acc_b[GROUP];
    const int one_pixel = a == b;
    const pairs_fn pairs = g->aligned ? (one_pixel ? pairs_aligned_one_pixel : pairs_aligned)
                                      : (one_pixel ? pairs_gathered_one_pixel : pairs_gathered);
    const single_fn single = one_pixel ? single_one_pixel : single_two_pixels;
    const store_fn store = one_pixel ? store_one_pixel : store_two_pixels;
    /* No lanes (len % 16 == 0): zeros, nothing read. */
    const int8x16_t tail_a = vldrbq_z_s8(a + 16 * g->chunks, g->tail_lanes);
    const int8x16_t tail_b = vldrbq_z_s8(b + 16 * g->chunks, g->tail_lanes);
    const int32_t cout = p->out_c, len = g->len;
    const int8_t *w = p->filter;
    for (int32_t oc = 0; oc < cout; oc += GROUP) {
        const int32_t count = cout - oc < GROUP ? cout - oc : GROUP, rows = count >> 1;
        pairs(g, a, b, tail_a, tail_b, w, rows, p->bias + oc, acc_a, acc_b);
        w += 2 * len * rows;
        if (count & 1) {
            single(g, a, b, tail_a, tail_b, w, p->bias + oc + count - 1, acc_a + count - 1, acc_b + count - 1);
            w += len;
        }
        store(p, oc, count, acc_a, acc_b, out_a, out_b);
    }
}

te_status te_conv_1x1_s8_mve(const te_conv_params *p, const int8_t *input, int8_t *output)
{
    te_gemm_mve g;
    te_gemm_mve_prepare(&g, p, p->in_c);
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t cin = p->in_c, cout = p->out_c;
    for (int32_t px = 0; px < pixels; px += 2) {
        const int8_t *a = input + (size_t)px * cin;
        int8_t *out_a = output + (size_t)px * cout;
        const int has_b = px + 1 < pixels;
        te_gemm_mve_pair(&g, p, a, has_b ? a + cin : a, out_a, has_b ? out_a + cout : out_a);
    }
    return TE_OK;
}
#endif
