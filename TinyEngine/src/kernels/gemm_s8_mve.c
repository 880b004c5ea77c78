/* The Helium (MVE) GEMM of te_conv_1x1_s8 and of te_conv_s8's im2col path (te_gemm_s8_mve.h).
 *
 * The filter is the one te_gemm_block reads (lowering/conv.py gemm_filter_layout): rows
 * [out_c][len], each zero-padded to a multiple of 4 bytes. A step takes 16 channels of a pair
 * of rows (m, n), one VLDRB each; the last len % 16 bytes of a row are loaded with the lanes
 * past len zeroed, against input vectors loaded once per pixel with those lanes zeroed too.
 * Each of the four dot products of a step (rows m, n times pixels a, b) is one VMLADAVA
 * accumulating the int8 products into a general register, wrapping like the hardware TFLite
 * runs on.
 *
 * Access order: the callers pass columns they copied whole before any output of the pair is
 * written (te_conv_1x1_s8_mve copies the pair's inputs; im2col does for te_conv_s8), as
 * memory/overlap.py's pixel_block_gap requires. */
#include "te_gemm_s8_mve.h"

#include "te_fixedpoint_mve.h"

#if TE_USE_MVE
#include <stdint.h>
#include <string.h>

/* Output channels per group: 2 x 128 bytes of accumulators. */
#define GROUP 32

void te_gemm_mve_prepare(te_gemm_mve *g, const te_conv_params *p, int32_t len)
{
    g->halve = p->gemm_double != 0;
    g->len = len;
    g->stride = (len + 3) & ~3;
    g->chunks = len >> 4;
    g->tail = len & 15;
    g->tail_lanes = vctp8q((uint32_t)(len & 15));
}

/* `rows` filter rows from w against columns a and b (tail_a and tail_b: their last len % 16
 * bytes, zero past them), from the biases (halved where `halve`: the doubled biases of a
 * gemm_double layer), into acc_a and acc_b (pixel a's and b's channels), rows in pairs sharing
 * each input vector. One_pixel (b == a): b's products are not computed, acc_b is not
 * written. */
static inline __attribute__((always_inline)) void dot_rows(const te_gemm_mve *g, const int8_t *a, const int8_t *b,
                                                          int8x16_t tail_a, int8x16_t tail_b, const int8_t *w,
                                                          int32_t rows, const int32_t *bias, int32_t *acc_a,
                                                          int32_t *acc_b, int one_pixel, int halve)
{
    /* Read once: the stores to acc_a and acc_b may alias *g as far as the compiler knows. */
    const int32_t chunks = g->chunks, stride = g->stride, tail = g->tail;
    const mve_pred16_t tail_lanes = g->tail_lanes;
    for (; rows >= 2; rows -= 2, w += 2 * stride, bias += 2, acc_a += 2, acc_b += 2) {
        int32_t am = bias[0] >> halve, an = bias[1] >> halve, bm = am, bn = an;
        const int8_t *x = a, *y = b, *wm = w, *wn = w + stride;
        for (int32_t i = chunks; i > 0; i--, wm += 16, wn += 16, x += 16, y += 16) {
            const int8x16_t m = vldrbq_s8(wm), n = vldrbq_s8(wn);
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
            const int8x16_t m = vldrbq_z_s8(wm, tail_lanes), n = vldrbq_z_s8(wn, tail_lanes);
            am = vmladavaq_s8(am, tail_a, m);
            an = vmladavaq_s8(an, tail_a, n);
            if (!one_pixel) {
                bm = vmladavaq_s8(bm, tail_b, m);
                bn = vmladavaq_s8(bn, tail_b, n);
            }
        }
        acc_a[0] = am;
        acc_a[1] = an;
        if (!one_pixel) {
            acc_b[0] = bm;
            acc_b[1] = bn;
        }
    }
    if (rows) {
        int32_t am = *bias >> halve, bm = am;
        for (int32_t i = chunks; i > 0; i--, w += 16, a += 16, b += 16) {
            const int8x16_t m = vldrbq_s8(w);
            am = vmladavaq_s8(am, vldrbq_s8(a), m);
            if (!one_pixel) {
                bm = vmladavaq_s8(bm, vldrbq_s8(b), m);
            }
        }
        const int8x16_t m = vldrbq_z_s8(w, tail_lanes);
        *acc_a = vmladavaq_s8(am, tail_a, m);
        if (!one_pixel) {
            *acc_b = vmladavaq_s8(bm, tail_b, m);
        }
    }
}

typedef void (*rows_fn)(const te_gemm_mve *g, const int8_t *a, const int8_t *b, int8x16_t tail_a, int8x16_t tail_b,
                        const int8_t *w, int32_t rows, const int32_t *bias, int32_t *acc_a, int32_t *acc_b);

/* One instance per pixel count and bias form, the shift a constant (the loops keep their registers). */
#define TE_GEMM_MVE_ROWS(NAME, ONE_PIXEL, HALVE)                                                                \
    static void __attribute__((noinline)) NAME(const te_gemm_mve *g, const int8_t *a, const int8_t *b,          \
                                               int8x16_t tail_a, int8x16_t tail_b, const int8_t *w, int32_t rows, \
                                               const int32_t *bias, int32_t *acc_a, int32_t *acc_b)             \
    {                                                                                                           \
        dot_rows(g, a, b, tail_a, tail_b, w, rows, bias, acc_a, acc_b, ONE_PIXEL, HALVE);                      \
    }
TE_GEMM_MVE_ROWS(rows_two_pixels, 0, 0)
TE_GEMM_MVE_ROWS(rows_one_pixel, 1, 0)
TE_GEMM_MVE_ROWS(rows_two_pixels_halved, 0, 1)
TE_GEMM_MVE_ROWS(rows_one_pixel_halved, 1, 1)
#undef TE_GEMM_MVE_ROWS

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
    const rows_fn rows = g->halve ? (one_pixel ? rows_one_pixel_halved : rows_two_pixels_halved)
                                  : (one_pixel ? rows_one_pixel : rows_two_pixels);
    const store_fn store = one_pixel ? store_one_pixel : store_two_pixels;
    /* No lanes (len % 16 == 0): zeros, nothing read. */
    const int8x16_t tail_a = vldrbq_z_s8(a + 16 * g->chunks, g->tail_lanes);
    const int8x16_t tail_b = vldrbq_z_s8(b + 16 * g->chunks, g->tail_lanes);
    const int32_t cout = p->out_c;
    for (int32_t oc = 0; oc < cout; oc += GROUP) {
        const int32_t count = cout - oc < GROUP ? cout - oc : GROUP;
        rows(g, a, b, tail_a, tail_b, p->filter + (size_t)oc * g->stride, count, p->bias + oc, acc_a, acc_b);
        store(p, oc, count, acc_a, acc_b, out_a, out_b);
    }
}

te_status te_conv_1x1_s8_mve(const te_conv_params *p, const int8_t *input, int8_t *output, int8_t *columns)
{
    const int32_t cin = p->in_c, cout = p->out_c;
    if (cin > TE_GEMM_MVE_MAX_LEN) {
        return TE_ERROR_ARGUMENT;
    }
    te_gemm_mve g;
    te_gemm_mve_prepare(&g, p, cin);
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    /* Where the output overlaps the input, a pair's inputs are copied whole into the scratch
     * (te_conv_1x1_s8_get_buffer_size bytes, at least 2 in_c) before its outputs are written:
     * the order pixel_block_gap proves. Elsewhere the pairs are read where they are. */
    const uintptr_t in_lo = (uintptr_t)input, in_hi = in_lo + (size_t)pixels * cin;
    const uintptr_t out_lo = (uintptr_t)output, out_hi = out_lo + (size_t)pixels * cout;
    const int copy = out_lo < in_hi && in_lo < out_hi;
    for (int32_t px = 0; px < pixels; px += 2) {
        const int has_b = px + 1 < pixels;
        const int8_t *a = input + (size_t)px * cin;
        if (copy) {
            memcpy(columns, a, (size_t)cin * (has_b ? 2u : 1u));
            a = columns;
        }
        int8_t *out_a = output + (size_t)px * cout;
        te_gemm_mve_pair(&g, p, a, has_b ? a + cin : a, out_a, has_b ? out_a + cout : out_a);
    }
    return TE_OK;
}
#endif
