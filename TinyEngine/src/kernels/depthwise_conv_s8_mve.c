/* The Helium (MVE) path of te_depthwise_conv_s8_fast (te_depthwise_mve.h), on the parameter
 * layout of depthwise_conv_s8_fast.c's header comment.
 *
 * MVE has no lane-wise integer multiply-accumulate of two vectors (VMLA takes a scalar), but
 * VMLADAVA multiplies 8 int16 lanes and adds the products to a general register. So a channel's
 * taps are the lanes: per group of 8 taps of the window, a 16-bit byte gather (VLDRB.S16 with
 * the taps' offsets) takes a channel's 8 input bytes, a VADD the input offset ([-255, 255] fits
 * int16, and so does each product), another gather the channel's 8 weights out of the block's
 * interleaved rows, and one VMLADAVA.S16 accumulates them onto the bias, wrapping like TFLite's
 * int32 arithmetic. The same offsets serve the block's 4 channels from bases 1 byte apart;
 * channels 2 and 3 sit 4 bytes after 0 and 1 in a pair of columns but 2 bytes after in an odd
 * last column, hence two weight offset vectors. Odd square windows have 8n + 1 taps: a last 1
 * to 3 taps go 4 channels at a time in int32 lanes (VLDRB.S32 gathers, VMUL), 4 to 7 as a
 * group whose spare lanes' weights are masked. The four sums then go to int32 lanes for the
 * requantisation (te_mve_requantize's instructions, te_fixedpoint_mve.h), the output offset,
 * the clamp and a truncating VSTRB.
 *
 * A window's taps depend on its clipping alone: their offsets are made once per clipped shape
 * (make_plan) and the assembly runs a row's pixels of one shape in one call; windows of one
 * group (whole 3 x 3 ones, clipped ones of 4 to 8 taps) keep the offsets in registers.
 * Kernels up to 7 rows and windows spanning less than 64 KiB of input (te_depthwise_mve_applies;
 * the gathers' offsets are 16-bit) take this path; the others stay on the DSP path.
 *
 * Access order: as the DSP path's, pixels in row-major order and each pixel's channels block by
 * block, a block's outputs written after its inputs are read; channels past the last are
 * neither read nor written. */
#include "te_depthwise_mve.h"

#include "te_fixedpoint.h"
#include "te_window.h"

#if TE_DW_MVE
#include <arm_mve.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* What the assembly reads: one clipped window's taps, as byte offsets of channel 0's input from
 * the window's first pixel and of its weights from the block (channel 1 one byte further;
 * channels 2 and 3 at w23), the layer's constants and the run of pixels to do. */
typedef struct {
    uint16_t mask[8]; /* the lanes of a last partial group */
    int32_t sums[4];  /* a block's sums on their way to a vector */
    int32_t lo[4], hi[4]; /* act_min, act_max */
    uint16_t x[8 * MAX_GROUPS], w01[8 * MAX_GROUPS], w23[8 * MAX_GROUPS]; /* per group, 8 lanes */
    uint32_t single_x[MAX_SINGLES][4], single_w[MAX_SINGLES][4]; /* per channel */
    int32_t full;    /* whole groups */
    int32_t partial; /* a last partial group (lanes: mask) */
    int32_t singles;
    int32_t shape;   /* the clipping it was made for */
    const int8_t *blocks;
    int32_t count;   /* whole blocks per pixel */
    int32_t block_bytes, records, output_offset;
    int32_t step;    /* input bytes from after a pixel's blocks to the next pixel's window */
    int32_t pixels;  /* left in the run */
} dw_plan;

/* dw_plan's layout, for the assembly. */
#define DW_SUMS "16"
#define DW_LO "32"
#define DW_HI "48"
#define DW_X "64"
#define DW_W01 "112" /* from x */
#define DW_W23 "224" /* from x */
#define DW_SX "400"
#define DW_SW "48" /* from single_x */
#define DW_FULL "496"
#define DW_PARTIAL "500"
#define DW_SINGLES "504"
#define DW_BLOCKS "512"
#define DW_COUNT "516"
#define DW_BLOCK_BYTES "520"
#define DW_RECORDS "524"
#define DW_OUTPUT_OFFSET "528"
#define DW_STEP "532"
#define DW_PIXELS "536"
_Static_assert(offsetof(dw_plan, sums) == 16 && offsetof(dw_plan, lo) == 32 && offsetof(dw_plan, hi) == 48 &&
                   offsetof(dw_plan, x) == 64 && offsetof(dw_plan, w01) == 64 + 112 &&
                   offsetof(dw_plan, w23) == 64 + 224 && offsetof(dw_plan, single_x) == 400 &&
                   offsetof(dw_plan, single_w) == 400 + 48 && offsetof(dw_plan, full) == 496 &&
                   offsetof(dw_plan, partial) == 500 && offsetof(dw_plan, singles) == 504 &&
                   offsetof(dw_plan, blocks) == 512 && offsetof(dw_plan, count) == 516 &&
                   offsetof(dw_plan, block_bytes) == 520 && offsetof(dw_plan, records) == 524 &&
                   offsetof(dw_plan, output_offset) == 528 && offsetof(dw_plan, step) == 532 &&
                   offsetof(dw_plan, pixels) == 536,
               "dw_plan's layout");

int te_depthwise_mve_applies(const te_dw_params *p)
{
    const int32_t span = ((p->k_h - 1) * p->in_w + p->k_w - 1) * p->channels;
    return p->k_h <= MAX_ROWS && span <= UINT16_MAX;
}

/* The taps of kernel rows [ky0, ky0 + kh) and columns [kx0, kx0 + kw). */
static void make_plan(dw_plan *t, const dw_layer *l, int32_t ky0, int32_t kh, int32_t kx0, int32_t kw)
{
    const int32_t paired = l->k_w & ~1, taps = kh * kw;
    const int32_t singles = (taps & 7) <= MAX_SINGLES ? taps & 7 : 0, grouped = taps - singles;
    t->full = grouped >> 3;
    t->partial = (grouped & 7) != 0;
    t->singles = singles;
    /* Per column: channel 0's weight in a kernel row, channel 2's after it. */
    int32_t col_w[7], col_w2[7];
    for (int32_t kx = 0; kx < kw; kx++) {
        const int32_t col = kx0 + kx, pair = col < paired;
        col_w[kx] = pair ? 8 * (col >> 1) + 2 * (col & 1) : 4 * paired;
        col_w2[kx] = col_w[kx] + (pair ? 4 : 2);
    }
    /* Every tap into the groups' lanes in row-major order (the singles' copied out below). */
    int32_t i = 0;
    for (int32_t ky = 0; ky < kh; ky++) {
        const int32_t row_x = ky * l->row_stride, row_w = BIAS_BYTES + (ky0 + ky) * l->row_bytes;
        for (int32_t kx = 0; kx < kw; kx++, i++) {
            t->x[i] = (uint16_t)(row_x + kx * l->channels);
            t->w01[i] = (uint16_t)(row_w + col_w[kx]);
            t->w23[i] = (uint16_t)(row_w + col_w2[kx]);
        }
    }
    /* A partial group's spare lanes read the first tap (their weights are masked). */
    for (; i & 7; i++) {
        t->x[i] = t->w01[i] = t->w23[i] = 0;
    }
    static const uint16_t lanes[16] = {0xFFFFu, 0xFFFFu, 0xFFFFu, 0xFFFFu, 0xFFFFu, 0xFFFFu, 0xFFFFu, 0xFFFFu};
    memcpy(t->mask, lanes + 8 - (grouped & 7), sizeof t->mask);
    for (int32_t s = 0; s < singles; s++) {
        const uint32_t sx = t->x[grouped + s], sw = t->w01[grouped + s], sw2 = t->w23[grouped + s];
        for (uint32_t j = 0; j < 4; j++) {
            t->single_x[s][j] = sx + j;
        }
        t->single_w[s][0] = sw;
        t->single_w[s][1] = sw + 1u;
        t->single_w[s][2] = sw2;
        t->single_w[s][3] = sw2 + 1u;
    }
}

/* Channel j of a block over a group (input offsets x, weight offsets WEIGHTS, MASKED: ANDed
 * with the partial group's lanes), bases Q and W, onto sum A. */
#define DW_CHANNEL(A, Q, W, WEIGHTS, MASKED)           \
    "vldrb.s16 %q[in], [" Q ", %q[x]]\n\t"             \
    "vldrb.s16 %q[wt], [" W ", %q[" WEIGHTS "]]\n\t"   \
    MASKED                                             \
    "vadd.i16 %q[in], %q[in], %[off]\n\t"              \
    "vmlava.s16 %[" A "], %q[in], %q[wt]\n\t"
/* The block's four channels over the group at tx (moved on to the next); w1 is w + 1. */
#define DW_GROUP(MASKED)                                                                    \
    "vldrh.u16 %q[wa], [%[tx], #" DW_W01 "]\n\t"                                            \
    "vldrh.u16 %q[wb], [%[tx], #" DW_W23 "]\n\t"                                            \
    "vldrh.u16 %q[x], [%[tx]], #16\n\t"                                                     \
    DW_CHANNEL("a0", "%[q]", "%[w]", "wa", MASKED)                                          \
    "adds %[t], %[q], #1\n\t" DW_CHANNEL("a1", "%[t]", "%[w1]", "wa", MASKED)               \
    "adds %[t], %[q], #2\n\t" DW_CHANNEL("a2", "%[t]", "%[w]", "wb", MASKED)                \
    "adds %[t], %[q], #3\n\t" DW_CHANNEL("a3", "%[t]", "%[w1]", "wb", MASKED)

/* The four sums a0..a3 into lanes, through memory: QEMU 7.2 puts VMOV Qd[2], Qd[0], Rt, Rt2's
 * Rt in lane 0, where GCC and LLVM expect lane 2. */
#define DW_SUMS_TO(Q)                                \
    "strd %[a0], %[a1], [%[k], #" DW_SUMS "]\n\t"    \
    "strd %[a2], %[a3], [%[k], #" DW_SUMS " + 8]\n\t" \
    "vldrw.u32 " Q ", [%[k], #" DW_SUMS "]\n\t"

/* One tap of the block's four channels in int32 lanes (input offsets SX, weight offsets SW from
 * bases q and w), the products into D. */
#define DW_SINGLE(SX, SW, D)                         \
    "vldrb.s32 %q[in], [%[q], " SX "]\n\t"           \
    "vldrb.s32 %q[wt], [%[w], " SW "]\n\t"           \
    "vadd.i32 %q[in], %q[in], %[off]\n\t"            \
    "vmul.i32 " D ", %q[in], %q[wt]\n\t"

/* The requantisation of acc by the block's records at R (shifts stored as right = -shift - 1),
 * plus the output offset OO, clamped and stored at out (moved on by 4). FAST, for a layer
 * without TE_DW_SIGNED, TE_DW_CLAMP or a left shift (every shift at most 0, act_min = -128 =
 * output offset): te_mve_requantize without its left shift and its borrow (a negative high half
 * rounds to an output at or below act_min either way) and a saturating narrowing for the clamp.
 * EXACT: te_mve_requantize and the clamp to [act_min, act_max]. */
#define DW_OUTPUT_FAST(R, OO)                        \
    "vldrw.u32 %q[in], [" R "]\n\t"                  \
    "vldrb.s32 %q[wt], [" R ", #16]\n\t"             \
    "vmvn %q[wt], %q[wt]\n\t"                        \
    "vqrdmulh.s32 %q[acc], %q[acc], %q[in]\n\t"      \
    "vrshl.s32 %q[acc], %q[acc], %q[wt]\n\t"         \
    "vadd.i32 %q[acc], %q[acc], " OO "\n\t"          \
    "vqmovnb.s32 %q[acc], %q[acc]\n\t"               \
    "vqmovnb.s16 %q[acc], %q[acc]\n\t"               \
    "vstrb.32 %q[acc], [%[out]], #4\n\t"
#define DW_OUTPUT_EXACT(R, OO)                                                 \
    "vldrb.s32 %q[wt], [" R ", #16]\n\t"                                       \
    "vmvn %q[in], %q[wt]\n\t"              /* shift */                          \
    "vshr.s32 %q[wt], %q[in], #31\n\t"                                         \
    "vand %q[wt], %q[wt], %q[in]\n\t"      /* right = min(shift, 0) */          \
    "vsub.i32 %q[in], %q[in], %q[wt]\n\t"  /* left = max(shift, 0) */           \
    "vshl.s32 %q[acc], %q[acc], %q[in]\n\t"                                    \
    "vldrw.u32 %q[in], [" R "]\n\t"                                            \
    "vqrdmulh.s32 %q[acc], %q[acc], %q[in]\n\t"                                \
    "vand %q[in], %q[acc], %q[wt]\n\t"                                         \
    "vshr.s32 %q[in], %q[in], #31\n\t"                                         \
    "vqadd.s32 %q[acc], %q[acc], %q[in]\n\t"                                   \
    "vrshl.s32 %q[acc], %q[acc], %q[wt]\n\t"                                   \
    "vadd.i32 %q[acc], %q[acc], " OO "\n\t"                                    \
    "vldrw.u32 %q[in], [%[k], #" DW_LO "]\n\t"                                 \
    "vmax.s32 %q[acc], %q[acc], %q[in]\n\t"                                    \
    "vldrw.u32 %q[in], [%[k], #" DW_HI "]\n\t"                                 \
    "vmin.s32 %q[acc], %q[acc], %q[in]\n\t"                                    \
    "vstrb.32 %q[acc], [%[out]], #4\n\t"

/* After a pixel's blocks: w back to the first block, q to the next pixel's window; loops back
 * to 1 for the run's next pixel. */
#define DW_NEXT_PIXEL                                \
    "ldr %[w], [%[k], #" DW_BLOCKS "]\n\t"           \
    "ldr %[w1], [%[k], #" DW_STEP "]\n\t"            \
    "add %[q], %[q], %[w1]\n\t"                      \
    "ldr %[w1], [%[k], #" DW_PIXELS "]\n\t"          \
    "subs %[w1], %[w1], #1\n\t"                      \
    "str %[w1], [%[k], #" DW_PIXELS "]\n\t"          \
    "bne 1b\n\t"

/* Any window: per block the biases into a0..a3, the whole groups, a partial group, the sums to
 * acc, the singles, the output. */
#define DW_ANY(OUTPUT)                                                                      \
    "1:\n\t"                                                                                \
    "ldr %[n], [%[k], #" DW_COUNT "]\n"                                                     \
    "2:\n\t"                                                                                \
    "ldrd %[a0], %[a1], [%[w]]\n\t"                                                         \
    "ldrd %[a2], %[a3], [%[w], #8]\n\t"                                                     \
    "add %[tx], %[k], #" DW_X "\n\t"                                                        \
    "adds %[w1], %[w], #1\n\t"                                                              \
    "ldr %[cnt], [%[k], #" DW_FULL "]\n\t"                                                  \
    "cmp %[cnt], #0\n\t"                                                                    \
    "beq 4f\n"                                                                              \
    "3:\n\t" DW_GROUP("")                                                                   \
    "subs %[cnt], %[cnt], #1\n\t"                                                           \
    "bne 3b\n"                                                                              \
    "4:\n\t"                                                                                \
    "ldr %[cnt], [%[k], #" DW_PARTIAL "]\n\t"                                               \
    "cmp %[cnt], #0\n\t"                                                                    \
    "beq 5f\n\t"                                                                            \
    "vldrh.u16 %q[acc], [%[k]]\n\t" DW_GROUP("vand %q[wt], %q[wt], %q[acc]\n\t")           \
    "5:\n\t" DW_SUMS_TO("%q[acc]")                                                          \
    "ldr %[cnt], [%[k], #" DW_SINGLES "]\n\t"                                               \
    "cmp %[cnt], #0\n\t"                                                                    \
    "beq 7f\n\t"                                                                            \
    "add %[tx], %[k], #" DW_SX "\n"                                                         \
    "6:\n\t"                                                                                \
    "vldrw.u32 %q[wa], [%[tx], #" DW_SW "]\n\t"                                             \
    "vldrw.u32 %q[x], [%[tx]], #16\n\t" DW_SINGLE("%q[x]", "%q[wa]", "%q[in]")               \
    "vadd.i32 %q[acc], %q[acc], %q[in]\n\t"                                                 \
    "subs %[cnt], %[cnt], #1\n\t"                                                           \
    "bne 6b\n"                                                                              \
    "7:\n\t"                                                                                \
    "ldr %[w1], [%[k], #" DW_RECORDS "]\n\t"                                                \
    "add %[w1], %[w1], %[w]\n\t"                                                            \
    "ldr %[t], [%[k], #" DW_OUTPUT_OFFSET "]\n\t" OUTPUT("%[w1]", "%[t]")                   \
    "ldr %[w1], [%[k], #" DW_BLOCK_BYTES "]\n\t"                                            \
    "adds %[q], %[q], #4\n\t"                                                               \
    "add %[w], %[w], %[w1]\n\t"                                                             \
    "subs %[n], %[n], #1\n\t"                                                               \
    "bne 2b\n\t" DW_NEXT_PIXEL

#define DW_ANY_FN(NAME, OUTPUT)                                                                                   \
    static void __attribute__((noinline)) NAME(dw_plan *k, const int8_t *q, int8_t *out, int32_t off)            \
    {                                                                                                         \
        int32_t a0, a1, a2, a3, n, cnt;                                                                       \
        const int8_t *w = k->blocks, *w1, *t;                                                                 \
        const uint16_t *tx;                                                                                   \
        int32x4_t x, wa, wb, in, wt, acc;                                                                     \
        __asm__ volatile(DW_ANY(OUTPUT)                                                                       \
                         : [a0] "=&Te"(a0), [a1] "=&Te"(a1), [a2] "=&Te"(a2), [a3] "=&Te"(a3), [n] "=&r"(n),   \
                           [cnt] "=&r"(cnt), [w1] "=&l"(w1), [t] "=&r"(t), [tx] "=&r"(tx), [q] "+r"(q),        \
                           [w] "+r"(w), [out] "+l"(out), [x] "=&w"(x), [wa] "=&w"(wa), [wb] "=&w"(wb),          \
                           [in] "=&w"(in), [wt] "=&w"(wt), [acc] "=&w"(acc)                                  \
                         : [k] "r"(k), [off] "r"(off)                                                         \
                         : "cc", "memory");                                                                   \
    }
DW_ANY_FN(dw_any_fast, DW_OUTPUT_FAST)
DW_ANY_FN(dw_any_exact, DW_OUTPUT_EXACT)

/* Windows of one group (LANES: ANDs a partial one's weights with the lanes in sx) and SINGLE
 * taps (none or one: its input offsets in sx, weight offsets in sw), a layer without flags:
 * the offsets held in registers across the run, q stepping through the block's channels.
 * SETUP loads the extra offsets, SUMS takes a0..a3 into acc. */
#define DW_ONE(SETUP, SINGLE, LANES, SUMS)                                                  \
    "add %[w1], %[k], #" DW_X "\n\t"                                                        \
    "vldrh.u16 %q[x], [%[w1]]\n\t"                                                          \
    "vldrh.u16 %q[wa], [%[w1], #" DW_W01 "]\n\t"                                            \
    "vldrh.u16 %q[wb], [%[w1], #" DW_W23 "]\n\t" SETUP                                      \
    "1:\n\t"                                                                                \
    "ldr %[n], [%[k], #" DW_COUNT "]\n"                                                     \
    "2:\n\t"                                                                                \
    "ldrd %[a0], %[a1], [%[w]]\n\t"                                                         \
    "ldrd %[a2], %[a3], [%[w], #8]\n\t" SINGLE                                              \
    "adds %[w1], %[w], #1\n\t" DW_CHANNEL("a0", "%[q]", "%[w]", "wa", LANES)                \
    "adds %[q], %[q], #1\n\t" DW_CHANNEL("a1", "%[q]", "%[w1]", "wa", LANES)                \
    "adds %[q], %[q], #1\n\t" DW_CHANNEL("a2", "%[q]", "%[w]", "wb", LANES)                 \
    "adds %[q], %[q], #1\n\t" DW_CHANNEL("a3", "%[q]", "%[w1]", "wb", LANES)                \
    "adds %[q], %[q], #1\n\t" SUMS                                                          \
    "add %[w1], %[w], %[rec]\n\t" DW_OUTPUT_FAST("%[w1]", "%[oo]")                          \
    "add %[w], %[w], %[bb]\n\t"                                                             \
    "subs %[n], %[n], #1\n\t"                                                               \
    "bne 2b\n\t" DW_NEXT_PIXEL

#define DW_ONE_FN(NAME, SETUP, SINGLE, LANES, SUMS)                                                               \
    static void __attribute__((noinline)) NAME(dw_plan *k, const int8_t *q, int8_t *out, int32_t off)            \
    {                                                                                                         \
        int32_t a0, a1, a2, a3, n;                                                                            \
        const int8_t *w = k->blocks, *w1;                                                                     \
        int32x4_t x, wa, wb, sx, sw, in, wt, acc;                                                             \
        __asm__ volatile(DW_ONE(SETUP, SINGLE, LANES, SUMS)                                                   \
                         : [a0] "=&Te"(a0), [a1] "=&Te"(a1), [a2] "=&Te"(a2), [a3] "=&Te"(a3), [n] "=&r"(n),   \
                           [w1] "=&l"(w1), [q] "+r"(q), [w] "+r"(w), [out] "+l"(out), [x] "=&w"(x),           \
                           [wa] "=&w"(wa), [wb] "=&w"(wb), [sx] "=&w"(sx), [sw] "=&w"(sw), [in] "=&w"(in),    \
                           [wt] "=&w"(wt), [acc] "=&w"(acc)                                                  \
                         : [k] "r"(k), [off] "r"(off), [rec] "r"(k->records), [oo] "r"(k->output_offset),    \
                           [bb] "r"(k->block_bytes)                                                           \
                         : "cc", "memory");                                                                   \
    }
/* 8n + 1 taps for n = 1: whole 3 x 3 windows. */
DW_ONE_FN(dw_one_single,
          "vldrw.u32 %q[sx], [%[k], #" DW_SX "]\n\t"
          "vldrw.u32 %q[sw], [%[k], #" DW_SX " + " DW_SW "]\n",
          DW_SINGLE("%q[sx]", "%q[sw]", "%q[acc]"), "", DW_SUMS_TO("%q[in]") "vadd.i32 %q[acc], %q[acc], %q[in]\n\t")
/* 8 taps. */
DW_ONE_FN(dw_one, "\n", "", "", DW_SUMS_TO("%q[acc]"))
/* 4 to 7 taps: clipped 3 x 3 windows. */
DW_ONE_FN(dw_one_partial, "vldrh.u16 %q[sx], [%[k]]\n", "", "vand %q[wt], %q[wt], %q[sx]\n\t", DW_SUMS_TO("%q[acc]"))

/* The last block's `count` channels (fewer than 4), in C: the assembly reads and writes 4. */
static void __attribute__((noinline)) dw_tail(const dw_layer *l, const dw_plan *t, const int8_t *q, const int8_t *w,
                                              int8_t *out, int32_t count)
{
    const int32_t *records = (const int32_t *)(const void *)(w + l->block_bytes - RECORD_BYTES);
    for (int32_t j = 0; j < count; j++) {
        uint32_t acc = (uint32_t)((const int32_t *)(const void *)w)[j];
        const int32_t grouped = 8 * (t->full + t->partial);
        for (int32_t i = 0; i < grouped; i++) {
            const uint16_t *weights = j < 2 ? t->w01 : t->w23;
            const int32_t live = i >> 3 < t->full || t->mask[i & 7];
            acc += (uint32_t)(live * (q[t->x[i] + j] + l->input_offset) * w[weights[i] + (j & 1)]);
        }
        for (int32_t s = 0; s < t->singles; s++) {
            acc += (uint32_t)((q[t->single_x[s][j]] + l->input_offset) * w[t->single_w[s][j]]);
        }
        const int32_t shift = ~(int32_t)((const int8_t *)(records + 4))[j];
        const int32_t y = te_wrapping_add(te_requantize((int32_t)acc, records[j], shift), l->output_offset);
        out[j] = (int8_t)te_clamp(y, l->act_min, l->act_max);
    }
}

typedef void (*dw_run_fn)(dw_plan *, const int8_t *, int8_t *, int32_t);

/* Whether a block the generator lists after the last one (TE_DW_EXACT) holds a left shift
 * (right below -1), which DW_OUTPUT_FAST does not take. */
static int left_shifts(const dw_layer *l, const te_dw_params *p)
{
    const int32_t blocks = (p->channels + 3) >> 2;
    for (const int32_t *listed = p->blocks + blocks * (l->block_bytes >> 2); *listed >= 0; listed++) {
        const int8_t *rights = l->blocks + (*listed + 1) * l->block_bytes - 4;
        for (int32_t j = 0; j < 4; j++) {
            if (rights[j] < -1) {
                return 1;
            }
        }
    }
    return 0;
}

/* The assembly for the plan: DW_OUTPUT_FAST's layers (fast) and windows of one group take the
 * forms with the offsets in registers. */
static dw_run_fn pick(const dw_plan *t, dw_run_fn any, int32_t fast)
{
    if (fast && t->full + t->partial == 1 && t->singles <= 1) {
        return t->partial ? dw_one_partial : (t->singles ? dw_one_single : dw_one);
    }
    return any;
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
    const int32_t stride_w = p->stride_w, whole = channels >> 2, tail = channels & 3;
    const int32_t fast =
        !(p->flags & (TE_DW_SIGNED | TE_DW_CLAMP)) && !((p->flags & TE_DW_EXACT) && left_shifts(&l, p));
    const dw_run_fn any = fast ? dw_any_fast : dw_any_exact;
    dw_plan t;
    t.shape = -1;
    t.blocks = l.blocks;
    t.count = whole;
    t.block_bytes = l.block_bytes;
    t.records = l.block_bytes - RECORD_BYTES;
    t.output_offset = l.output_offset;
    t.step = stride_w * channels - 4 * whole;
    for (int32_t j = 0; j < 4; j++) {
        t.lo[j] = l.act_min;
        t.hi[j] = l.act_max;
    }
    const int8_t *tail_w = l.blocks + (size_t)whole * l.block_bytes;
    int8_t *out = output;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * in_h * in_w * channels;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            int32_t ky0;
            const int32_t kh = te_window_clip(oy * p->stride_h - p->pad_top, k_h, in_h, &ky0);
            /* The window's first row (kept inside the input: none for a window in the padding). */
            const int32_t iy = kh > 0 ? oy * p->stride_h - p->pad_top + ky0 : 0;
            const int8_t *in_row = in_b + (size_t)iy * in_w * channels;
            for (int32_t ox = 0; ox < p->out_w;) {
                int32_t kx0;
                const int32_t x0 = ox * stride_w - p->pad_left;
                const int32_t kw = te_window_clip(x0, k_w, in_w, &kx0);
                /* Clipped shapes, and one for every window without taps. */
                const int32_t shape = kh > 0 && kw > 0 ? ((ky0 * 8 + kh) * 8 + kx0) * 8 + kw : 0;
                if (shape != t.shape) {
                    make_plan(&t, &l, ky0, kh, kx0, kw);
                    t.shape = shape;
                }
                /* A window entirely in the padding (patch-based tiles) reads nothing. */
                const int8_t *q = kh > 0 && kw > 0 ? in_row + (size_t)(x0 + kx0) * channels : in_b;
                /* The run of pixels with this window's columns: those of whole rows of the kernel
                 * end at x0 + (n - 1) * stride_w + k_w <= in_w; a pixel alone for the tail's C. */
                int32_t n = 1;
                if (kw == k_w && tail == 0) {
                    n = (in_w - k_w - x0) / stride_w + 1;
                    n = n < p->out_w - ox ? n : p->out_w - ox;
                }
                if (whole > 0) {
                    t.pixels = n;
                    pick(&t, any, fast)(&t, q, out, l.input_offset);
                }
                if (tail > 0) {
                    dw_tail(&l, &t, q + 4 * whole, tail_w, out + 4 * whole, tail);
                }
                ox += n;
                out += n * channels;
            }
        }
    }
    return TE_OK;
}
#endif
