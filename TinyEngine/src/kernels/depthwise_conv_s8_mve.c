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

#include "te_fixedpoint.h"
#include "te_fixedpoint_mve.h"

#if TE_USE_MVE
#include <stddef.h>
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

/* One clipped window's taps, byte offsets of channel 0's input from the window's first pixel
 * and of its weights from the block (channel 1 one byte further; channels 2 and 3 at w23), and
 * what the assembly reads of the layer. */
typedef struct {
    uint16_t mask[8]; /* the lanes of a last partial group */
    uint16_t x[MAX_GROUPS][8], w01[MAX_GROUPS][8], w23[MAX_GROUPS][8];
    uint32_t single_x[MAX_SINGLES][4], single_w[MAX_SINGLES][4]; /* per channel */
    int32_t full;    /* whole groups */
    int32_t partial; /* a last partial group (lanes: mask) */
    int32_t singles;
    int32_t shape;   /* the clipping it was made for */
    int32_t block_bytes, records, output_offset;
    int32_t sums[4]; /* the block's sums on their way to a vector */
} dw_taps;

/* dw_taps' layout, for the assembly (checked below). */
#define DW_X "16"
#define DW_W01 "112" /* from x */
#define DW_W23 "224" /* from x */
#define DW_SX "352"
#define DW_SW "48" /* from single_x */
#define DW_FULL "448"
#define DW_PARTIAL "452"
#define DW_SINGLES "456"
#define DW_BLOCK_BYTES "464"
#define DW_RECORDS "468"
#define DW_OUTPUT_OFFSET "472"
#define DW_SUMS "476"
_Static_assert(offsetof(dw_taps, x) == 16 && offsetof(dw_taps, w01) == 16 + 112 && offsetof(dw_taps, w23) == 16 + 224 &&
                   offsetof(dw_taps, single_x) == 352 && offsetof(dw_taps, single_w) == 352 + 48 &&
                   offsetof(dw_taps, full) == 448 && offsetof(dw_taps, partial) == 452 &&
                   offsetof(dw_taps, singles) == 456 && offsetof(dw_taps, block_bytes) == 464 &&
                   offsetof(dw_taps, records) == 468 && offsetof(dw_taps, output_offset) == 472 &&
                   offsetof(dw_taps, sums) == 476,
               "dw_taps' layout");

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
    t->partial = (grouped & 7) != 0;
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
                for (int32_t j = 0; j < 4; j++) {
                    t->single_x[s][j] = (uint32_t)(x + j);
                }
                t->single_w[s][0] = (uint32_t)w;
                t->single_w[s][1] = (uint32_t)w + 1u;
                t->single_w[s][2] = (uint32_t)w2;
                t->single_w[s][3] = (uint32_t)w2 + 1u;
            }
        }
    }
    /* A partial group's spare lanes read the first tap (their weights are masked). */
    for (int32_t lane = 0; lane < 8; lane++) {
        t->mask[lane] = lane < (grouped & 7) ? 0xFFFFu : 0u;
    }
    for (; i < ((grouped + 7) & ~7); i++) {
        t->x[i >> 3][i & 7] = 0;
        t->w01[i >> 3][i & 7] = 0;
        t->w23[i >> 3][i & 7] = 0;
    }
}

/* Channel j of a block over the group's offsets x and weights WEIGHTS (MASKED: ANDed with the
 * partial group's lanes), bases Q and W, onto sum A. */
#define DW_CHANNEL(A, Q, W, WEIGHTS, MASKED)           \
    "vldrb.s16 %q[in], [" Q ", %q[x]]\n\t"             \
    "vldrb.s16 %q[wt], [" W ", %q[" WEIGHTS "]]\n\t"   \
    MASKED                                             \
    "vadd.i16 %q[in], %q[in], %[off]\n\t"              \
    "vmlava.s16 %[" A "], %q[in], %q[wt]\n\t"
/* The block's four channels over the group at tx (moved on to the next); w1 is w + 1. */
#define DW_GROUP(MASKED)                                                                    \
    "vldrh.u16 %q[wa], [%[tx], #" DW_W01 "]\n\t"                                               \
    "vldrh.u16 %q[wb], [%[tx], #" DW_W23 "]\n\t"                                               \
    "vldrh.u16 %q[x], [%[tx]], #16\n\t"                                                     \
    DW_CHANNEL("a0", "%[q]", "%[w]", "wa", MASKED)                                          \
    "adds %[t1], %[q], #1\n\t" DW_CHANNEL("a1", "%[t1]", "%[w1]", "wa", MASKED)              \
    "adds %[t1], %[q], #2\n\t" DW_CHANNEL("a2", "%[t1]", "%[w]", "wb", MASKED)               \
    "adds %[t1], %[q], #3\n\t" DW_CHANNEL("a3", "%[t1]", "%[w1]", "wb", MASKED)

/* Rounding of te_requantize's right shift for a layer with TE_DW_SIGNED (elsewhere a negative
 * accumulator clamps to act_min whichever way it rounds): the borrow of te_mve_requantize_right. */
#define DW_BORROW(SHIFT)                             \
    "vand %q[in], %q[acc], " SHIFT "\n\t"            \
    "vshr.s32 %q[in], %q[in], #31\n\t"               \
    "vqadd.s32 %q[acc], %q[acc], %q[in]\n\t"
/* te_mve_requantize_right of acc by multipliers x, shifts wa (every shift below -1). */
#define DW_REQUANTIZE_FAST(BORROW) "vqrdmulh.s32 %q[acc], %q[acc], %q[x]\n\t" BORROW "vrshl.s32 %q[acc], %q[acc], %q[wa]\n\t"
/* te_mve_requantize of acc by multipliers x, shifts wa (TE_DW_EXACT): wb = min(shift, 0). */
#define DW_REQUANTIZE_EXACT(BORROW)                  \
    "vshr.s32 %q[wb], %q[wa], #31\n\t"               \
    "vand %q[wb], %q[wb], %q[wa]\n\t"                \
    "vsub.i32 %q[wa], %q[wa], %q[wb]\n\t"            \
    "vshl.s32 %q[acc], %q[acc], %q[wa]\n\t"          \
    "vqrdmulh.s32 %q[acc], %q[acc], %q[x]\n\t" BORROW \
    "vrshl.s32 %q[acc], %q[acc], %q[wb]\n\t"

/* Every whole block of a pixel: per block the biases, the groups, a partial group, the singles,
 * the requantisation (REQUANTIZE) and the clamp. q: the first block's window, w the first block,
 * n blocks (at least one). */
#define DW_BLOCKS(REQUANTIZE)                                                          \
    "1:\n\t"                                                                            \
    "ldrd %[a0], %[a1], [%[w]]\n\t"                                                     \
    "ldrd %[a2], %[a3], [%[w], #8]\n\t"                                                 \
    "add %[tx], %[k], #" DW_X "\n\t"                                                       \
    "adds %[w1], %[w], #1\n\t"                                                          \
    "ldr %[count], [%[k], #" DW_FULL "]\n\t"                                               \
    "cmp %[count], #0\n\t"                                                              \
    "beq 3f\n"                                                                          \
    "2:\n\t" DW_GROUP("")                                                               \
    "subs %[count], %[count], #1\n\t"                                                   \
    "bne 2b\n"                                                                          \
    "3:\n\t"                                                                            \
    "ldr %[t1], [%[k], #" DW_PARTIAL "]\n\t"                                               \
    "cmp %[t1], #0\n\t"                                                                 \
    "beq 4f\n\t"                                                                        \
    "vldrh.u16 %q[acc], [%[k]]\n\t" DW_GROUP("vand %q[wt], %q[wt], %q[acc]\n\t")       \
    "4:\n\t"                                                                            \
    "strd %[a0], %[a1], [%[k], #" DW_SUMS "]\n\t"                                       \
    "strd %[a2], %[a3], [%[k], #" DW_SUMS " + 8]\n\t"                                   \
    "vldrw.u32 %q[acc], [%[k], #" DW_SUMS "]\n\t"                                       \
    "ldr %[t1], [%[k], #" DW_SINGLES "]\n\t"                                               \
    "cmp %[t1], #0\n\t"                                                                 \
    "beq 6f\n\t"                                                                        \
    "add %[tx], %[k], #" DW_SX "\n"                                                        \
    "5:\n\t"                                                                            \
    "vldrw.u32 %q[wa], [%[tx], #" DW_SW "]\n\t"                                            \
    "vldrw.u32 %q[x], [%[tx]], #16\n\t"                                                 \
    "vldrb.s32 %q[in], [%[q], %q[x]]\n\t"                                               \
    "vldrb.s32 %q[wt], [%[w], %q[wa]]\n\t"                                              \
    "vadd.i32 %q[in], %q[in], %[off]\n\t"                                               \
    "vmul.i32 %q[in], %q[in], %q[wt]\n\t"                                               \
    "vadd.i32 %q[acc], %q[acc], %q[in]\n\t"                                             \
    "subs %[t1], %[t1], #1\n\t"                                                         \
    "bne 5b\n"                                                                          \
    "6:\n\t"                                                                            \
    "ldr %[t1], [%[k], #" DW_RECORDS "]\n\t"                                               \
    "add %[t1], %[t1], %[w]\n\t"                                                        \
    "vldrw.u32 %q[x], [%[t1]]\n\t"                                                      \
    "vldrb.s32 %q[wa], [%[t1], #16]\n\t"                                                \
    "vmvn %q[wa], %q[wa]\n\t" /* stored as right = -shift - 1 */                        \
    REQUANTIZE                                                                          \
    "ldr %[t1], [%[k], #" DW_OUTPUT_OFFSET "]\n\t"                                         \
    "vadd.i32 %q[acc], %q[acc], %[t1]\n\t"                                              \
    "vmax.s32 %q[acc], %q[acc], %q[lo]\n\t"                                             \
    "vmin.s32 %q[acc], %q[acc], %q[hi]\n\t"                                             \
    "vstrb.32 %q[acc], [%[out]], #4\n\t"                                                \
    "ldr %[t1], [%[k], #" DW_BLOCK_BYTES "]\n\t"                                           \
    "adds %[q], %[q], #4\n\t"                                                           \
    "add %[w], %[w], %[t1]\n\t"                                                         \
    "subs %[n], %[n], #1\n\t"                                                           \
    "bne 1b\n\t"

#define DW_PIXEL(NAME, REQUANTIZE)                                                                                \
    static void __attribute__((noinline)) NAME(dw_taps *k, const int8_t *q, const int8_t *w, int8_t *out,     \
                                               int32_t n, int32_t off, int32x4_t lo, int32x4_t hi)            \
    {                                                                                                         \
        int32_t a0, a1, a2, a3, t1, count;                                                                    \
        const int8_t *w1;                                                                                     \
        const uint16_t *tx;                                                                                   \
        int32x4_t x, wa, wb, in, wt, acc;                                                                     \
        __asm__ volatile(DW_BLOCKS(REQUANTIZE)                                                                \
                         : [a0] "=&Te"(a0), [a1] "=&Te"(a1), [a2] "=&Te"(a2), [a3] "=&Te"(a3), [t1] "=&l"(t1), \
                           [count] "=&r"(count), [w1] "=&r"(w1), [tx] "=&r"(tx), [q] "+r"(q), [w] "+r"(w), [out] "+l"(out),         \
                           [n] "+r"(n), [x] "=&w"(x), [wa] "=&w"(wa), [wb] "=&w"(wb), [in] "=&w"(in),          \
                           [wt] "=&w"(wt), [acc] "=&w"(acc)                                                   \
                         : [k] "r"(k), [off] "r"(off), [lo] "w"(lo), [hi] "w"(hi)                             \
                         : "cc", "memory");                                                                   \
    }
DW_PIXEL(dw_blocks_fast, DW_REQUANTIZE_FAST(""))
DW_PIXEL(dw_blocks_signed, DW_REQUANTIZE_FAST(DW_BORROW("%q[wa]")))
DW_PIXEL(dw_blocks_exact, DW_REQUANTIZE_EXACT(DW_BORROW("%q[wb]")))

/* The last block's `count` channels (fewer than 4), in C: the assembly reads and writes 4. */
static void __attribute__((noinline)) dw_tail(const dw_layer *l, const dw_taps *t, const int8_t *q, const int8_t *w,
                                              int8_t *out, int32_t count)
{
    const int32_t *records = (const int32_t *)(const void *)(w + l->block_bytes - RECORD_BYTES);
    for (int32_t j = 0; j < count; j++) {
        uint32_t acc = (uint32_t)((const int32_t *)(const void *)w)[j];
        const int32_t grouped = 8 * (t->full + t->partial);
        for (int32_t i = 0; i < grouped; i++) {
            const uint16_t *weights = j < 2 ? t->w01[i >> 3] : t->w23[i >> 3];
            const int32_t live = i >> 3 < t->full || t->mask[i & 7];
            acc += (uint32_t)(live * (q[t->x[i >> 3][i & 7] + j] + l->input_offset) * w[weights[i & 7] + (j & 1)]);
        }
        for (int32_t s = 0; s < t->singles; s++) {
            acc += (uint32_t)((q[t->single_x[s][j]] + l->input_offset) * w[t->single_w[s][j]]);
        }
        const int32_t shift = ~(int32_t)((const int8_t *)(records + 4))[j];
        const int32_t y = te_wrapping_add(te_requantize((int32_t)acc, records[j], shift), l->output_offset);
        out[j] = (int8_t)te_clamp(y, l->act_min, l->act_max);
    }
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
    const int32_t whole = channels >> 2, tail = channels & 3;
    void (*const blocks)(dw_taps *, const int8_t *, const int8_t *, int8_t *, int32_t, int32_t, int32x4_t, int32x4_t) =
        p->flags & TE_DW_EXACT ? dw_blocks_exact : (p->flags & TE_DW_SIGNED ? dw_blocks_signed : dw_blocks_fast);
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    dw_taps t;
    t.shape = -1;
    t.block_bytes = l.block_bytes;
    t.records = l.block_bytes - RECORD_BYTES;
    t.output_offset = l.output_offset;
    const int8_t *tail_w = l.blocks + (size_t)whole * l.block_bytes;
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
                const int8_t *q = kh > 0 && kw > 0 ? in_row + (size_t)(x0 + kx0) * channels : in_b;
                if (whole > 0) {
                    blocks(&t, q, l.blocks, out, whole, l.input_offset, lo, hi);
                }
                if (tail > 0) {
                    dw_tail(&l, &t, q + 4 * whole, tail_w, out + 4 * whole, tail);
                }
            }
        }
    }
    return TE_OK;
}
#endif
