/* The Helium (MVE) path of te_depthwise_conv_s8_fast (te_depthwise_mve.h), on the parameter
 * layout of depthwise_conv_s8_fast.c's header comment.
 *
 * MVE has no lane-wise integer multiply-accumulate of two vectors, but VMLADAVA multiplies 8
 * int16 lanes and adds the products to a general register. So a channel's taps are the lanes:
 * per group of 8 taps of the window, one 16-bit byte gather takes a channel's 8 input bytes
 * (VLDRB.S16 with the taps' offsets), a VADD the input offset ([-255, 255] fits int16, and so
 * does each product), another gather the channel's 8 weights out of the block's interleaved
 * rows, and one VMLADAVA.S16 accumulates them onto the bias (wrapping like TFLite's int32
 * arithmetic). The same offsets serve the block's 4 channels, from bases 1 byte apart for the
 * input; channels 2 and 3 sit 4 bytes after 0 and 1 in a pair of columns but 2 bytes after in
 * an odd last column, hence two weight offset vectors. Odd square windows have 8n + 1 taps: a
 * last 1 to 3 taps are taken 4 channels at a time in int32 lanes (VLDRB.S32 of the contiguous
 * channels, a gather of the weights, VMUL), more than 3 as a predicated group. Then the four
 * sums go to int32 lanes for te_mve_requantize (exact for every shift, TE_DW_EXACT included),
 * the output offset, the clamp and a truncating VSTRB.
 *
 * The taps' offsets depend on the window's clipping only: made once per clipped shape (a run of
 * pixels shares one), for rows up to 7 and offsets below 2^16 (te_depthwise_mve_applies).
 *
 * Access order: as the DSP path's, pixels in row-major order and each pixel's channels block by
 * block, the block's outputs written after its inputs are read; channels past the last are
 * neither read nor written. */
#include "te_depthwise_mve.h"

#include "te_fixedpoint_mve.h"

#if TE_USE_MVE
#include <stdint.h>

enum {
    BIAS_BYTES = 16,
    RECORD_BYTES = 20, /* 4 multipliers and a word of 4 shifts */
    MAX_ROWS = 7,
    MAX_GROUPS = (MAX_ROWS * 7 + 7) / 8,
    MAX_SINGLES = 3, /* a last group of up to this many taps runs in int32 lanes */
};

/* The layer's constants, read into locals once: the int8 stores may alias p. */
typedef struct {
    int32_t channels, k_w, row_stride, row_bytes, block_bytes;
    int32_t input_offset, output_offset, act_min, act_max;
    const int8_t *blocks;
} dw_layer;

/* One clipped window's taps: byte offsets of channel 0's input from the window's first pixel
 * and of its weights from the block (channel 1 one byte further; channels 2 and 3 at w23). */
typedef struct {
    uint16_t x[MAX_GROUPS][8], w01[MAX_GROUPS][8], w23[MAX_GROUPS][8];
    uint32_t single_w[MAX_SINGLES][4]; /* per channel */
    int32_t single_x[MAX_SINGLES];
    int32_t full;          /* whole groups */
    mve_pred16_t partial;  /* the lanes of a last partial group, or 0 */
    int32_t singles;
    int32_t shape;         /* the clipping it was made for */
} dw_taps;

int te_depthwise_mve_applies(const te_dw_params *p)
{
    const int32_t span = ((p->k_h - 1) * p->in_w + p->k_w - 1) * p->channels;
    return p->k_h <= MAX_ROWS && span <= UINT16_MAX;
}

/* The taps of kernel rows [ky0, ky0 + kh) and columns [kx0, kx0 + kw). */
static void make_taps(dw_taps *t, const dw_layer *l, int32_t ky0, int32_t kh, int32_t kx0, int32_t kw)
{
    const int32_t paired = l->k_w & ~1, taps = kh * kw;
    const int32_t singles = (taps & 7) <= MAX_SINGLES ? taps & 7 : 0, grouped = taps - singles;
    t->full = grouped >> 3;
    t->partial = grouped & 7 ? vctp16q((uint32_t)(grouped & 7)) : 0;
    t->singles = singles;
    int32_t i = 0;
    for (int32_t ky = 0; ky < kh; ky++) {
        for (int32_t kx = 0; kx < kw; kx++, i++) {
            const int32_t col = kx0 + kx, pair = col < paired;
            const int32_t x = ky * l->row_stride + kx * l->channels;
            const int32_t w = BIAS_BYTES + (ky0 + ky) * l->row_bytes + (pair ? 8 * (col >> 1) + 2 * (col & 1) : 4 * paired);
            const int32_t w2 = w + (pair ? 4 : 2); /* channel 2's weight */
            if (i < grouped) {
                t->x[i >> 3][i & 7] = (uint16_t)x;
                t->w01[i >> 3][i & 7] = (uint16_t)w;
                t->w23[i >> 3][i & 7] = (uint16_t)w2;
            } else {
                const int32_t s = i - grouped;
                t->single_x[s] = x;
                t->single_w[s][0] = (uint32_t)w;
                t->single_w[s][1] = (uint32_t)w + 1u;
                t->single_w[s][2] = (uint32_t)w2;
                t->single_w[s][3] = (uint32_t)w2 + 1u;
            }
        }
    }
    /* A partial group's spare lanes read the first tap's input (their weights are zeroed). */
    for (; i < ((grouped + 7) & ~7); i++) {
        t->x[i >> 3][i & 7] = 0;
        t->w01[i >> 3][i & 7] = 0;
        t->w23[i >> 3][i & 7] = 0;
    }
}

/* Channel j's sum over one group: its 8 inputs (base q) plus the input offset times its 8
 * weights (base w; lanes: those of a partial group), onto acc. */
static inline __attribute__((always_inline)) int32_t group_dot(int32_t acc, const int8_t *q, uint16x8_t x,
                                                              const int8_t *w, uint16x8_t weights, int16_t offset,
                                                              mve_pred16_t lanes, int partial)
{
    const int16x8_t in = vaddq_n_s16(vldrbq_gather_offset_s16(q, x), offset);
    const int16x8_t wt = partial ? vldrbq_gather_offset_z_s16(w, weights, lanes) : vldrbq_gather_offset_s16(w, weights);
    return vmladavaq_s16(acc, in, wt);
}

/* The sums of `count` channels (full: 4) over group g, onto a. */
static inline __attribute__((always_inline)) void group(const dw_taps *t, int32_t g, const int8_t *q,
                                                       const int8_t *w, int16_t offset, int32_t *a, int32_t count,
                                                       int full, int partial)
{
    const uint16x8_t x = vldrhq_u16(t->x[g]), w01 = vldrhq_u16(t->w01[g]), w23 = vldrhq_u16(t->w23[g]);
    a[0] = group_dot(a[0], q, x, w, w01, offset, t->partial, partial);
    if (full || count > 1) {
        a[1] = group_dot(a[1], q + 1, x, w + 1, w01, offset, t->partial, partial);
    }
    if (full || count > 2) {
        a[2] = group_dot(a[2], q + 2, x, w, w23, offset, t->partial, partial);
    }
    if (full) {
        a[3] = group_dot(a[3], q + 3, x, w + 1, w23, offset, t->partial, partial);
    }
}

/* One block of `count` channels (full: 4) of a pixel: q its window's first input byte, w the
 * block, out its outputs. */
static inline __attribute__((always_inline)) void dw_block(const dw_layer *l, const dw_taps *t, const int8_t *q,
                                                          const int8_t *w, int8_t *out, int32_t count, int full,
                                                          int exact)
{
    const int32_t *bias = (const int32_t *)(const void *)w;
    const int16_t offset = (int16_t)l->input_offset;
    int32_t a[4] = {bias[0], bias[1], bias[2], bias[3]};
    for (int32_t g = 0; g < t->full; g++) {
        group(t, g, q, w, offset, a, count, full, 0);
    }
    if (t->partial) {
        group(t, t->full, q, w, offset, a, count, full, 1);
    }
    int32x4_t acc = vsetq_lane_s32(a[3], vsetq_lane_s32(a[2], vsetq_lane_s32(a[1], vdupq_n_s32(a[0]), 1), 2), 3);
    const mve_pred16_t lanes = vctp32q((uint32_t)count);
    for (int32_t s = 0; s < t->singles; s++) {
        const int8_t *x = q + t->single_x[s];
        const int32x4_t in = vaddq_n_s32(full ? vldrbq_s32(x) : vldrbq_z_s32(x, lanes), l->input_offset);
        acc = vaddq_s32(acc, vmulq_s32(in, vldrbq_gather_offset_s32(w, vldrwq_u32(t->single_w[s]))));
    }
    const int32_t *records = (const int32_t *)(const void *)(w + l->block_bytes - RECORD_BYTES);
    /* Stored as right = -shift - 1. */
    const int32x4_t shift = vmvnq_s32(vldrbq_s32((const int8_t *)(records + 4)));
    const int32x4_t multiplier = vldrwq_s32(records);
    int32x4_t y;
    if (exact) {
        const int32x4_t right = vandq_s32(shift, vshrq_n_s32(shift, 31));
        y = te_mve_requantize(acc, multiplier, vsubq_s32(shift, right), right);
    } else {
        y = te_mve_requantize_right(acc, multiplier, shift); /* every shift below -1 */
    }
    y = vaddq_n_s32(y, l->output_offset);
    y = vminq_s32(vmaxq_s32(y, vdupq_n_s32(l->act_min)), vdupq_n_s32(l->act_max));
    if (full) {
        vstrbq_s32(out, y);
    } else {
        vstrbq_p_s32(out, y, lanes);
    }
}

/* Every block of a pixel. */
static inline __attribute__((always_inline)) void dw_pixel(const dw_layer *l, const dw_taps *t, const int8_t *q,
                                                          int8_t *out, int exact)
{
    const int8_t *w = l->blocks;
    const int32_t channels = l->channels;
    int32_t c = 0;
    for (; c + 4 <= channels; c += 4, w += l->block_bytes) {
        dw_block(l, t, q + c, w, out + c, 4, 1, exact);
    }
    if (c < channels) {
        dw_block(l, t, q + c, w, out + c, channels - c, 0, exact);
    }
}

static void __attribute__((noinline)) dw_pixel_fast(const dw_layer *l, const dw_taps *t, const int8_t *q, int8_t *out)
{
    dw_pixel(l, t, q, out, 0);
}

/* TE_DW_EXACT: shifts from left shifts to below te_requant_fast's range. */
static void __attribute__((noinline)) dw_pixel_exact(const dw_layer *l, const dw_taps *t, const int8_t *q,
                                                     int8_t *out)
{
    dw_pixel(l, t, q, out, 1);
}

/* The taps of a window starting at input coordinate `start` that fall inside [0, size):
 * from *first on, as many as returned (0 if none). */
static inline int32_t clip(int32_t start, int32_t k, int32_t size, int32_t *first)
{
    const int32_t lo = start < 0 ? -start : 0;
    const int32_t hi = size - start < k ? size - start : k;
    *first = lo;
    return hi > lo ? hi - lo : 0;
}

te_status te_depthwise_conv_s8_mve(const te_dw_params *p, const int8_t *input, int8_t *output)
{
    const int32_t row_words = 2 * (p->k_w >> 1) + (p->k_w & 1);
    const dw_layer l = {
        .channels = p->channels, .k_w = p->k_w, .row_stride = p->in_w * p->channels, .row_bytes = 4 * row_words,
        .block_bytes = BIAS_BYTES + 4 * p->k_h * row_words + RECORD_BYTES, .input_offset = p->input_offset,
        .output_offset = p->output_offset, .act_min = p->act_min, .act_max = p->act_max,
        .blocks = (const int8_t *)(const void *)p->blocks,
    };
    const int32_t k_h = p->k_h, k_w = p->k_w, in_h = p->in_h, in_w = p->in_w, channels = p->channels;
    void (*const pixel)(const dw_layer *, const dw_taps *, const int8_t *, int8_t *) =
        p->flags & TE_DW_EXACT ? dw_pixel_exact : dw_pixel_fast;
    dw_taps t;
    t.shape = -1;
    int8_t *out = output;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * in_h * in_w * channels;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            int32_t ky0;
            const int32_t kh = clip(oy * p->stride_h - p->pad_top, k_h, in_h, &ky0);
            /* The window's first row (kept inside the input: none for a window in the padding). */
            const int32_t iy = kh > 0 ? oy * p->stride_h - p->pad_top + ky0 : 0;
            const int8_t *in_row = in_b + (size_t)iy * in_w * channels;
            for (int32_t ox = 0; ox < p->out_w; ox++, out += channels) {
                int32_t kx0;
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                const int32_t kw = clip(x0, k_w, in_w, &kx0);
                /* Clipped shapes, and one for every window without taps. */
                const int32_t shape = kh > 0 && kw > 0 ? ((ky0 * 8 + kh) * 8 + kx0) * 8 + kw : 0;
                if (shape != t.shape) {
                    make_taps(&t, &l, ky0, kh, kx0, kw);
                    t.shape = shape;
                }
                /* A window entirely in the padding (patch-based tiles) reads nothing. */
                pixel(&l, &t, kh > 0 && kw > 0 ? in_row + (size_t)(x0 + kx0) * channels : in_b, out);
            }
        }
    }
    return TE_OK;
}
#endif
