/* The matrix-multiply core shared by the convolutions that run as a GEMM (pointwise, and
 * im2col columns of small windows): blocks of up to 6 output pixels, whose input columns are
 * first sign-extended to int16 into a scratch on the stack, against every filter row, one row
 * at a time; each row's sums stay in registers through the output stage.
 *
 * Why this shape (instructions counted on the DSP path): widening a column once per block
 * instead of once per filter row takes the input SXTB16s out of the inner loop; a row's weight
 * word, widened by two SXTB16s, serves the block's 4 pixels; so 4 input channels of 4 pixels
 * against one row are 1 LDR, 2 SXTB16, 2 LDM and 8 SMLAD (16 MACs). One row at a time leaves
 * the registers for the sums of 4 pixels, and its output stage has one channel's constants.
 * Per row and block, besides: its bias as the first SMLADs' accumulator, its chunks in a loop
 * of 8 bodies entered at the body that leaves whole passes (no odd-chunk branches), and where
 * the channels take te_gemm_requant (all but a few: te_gemm.fused), the sums straight into the
 * output stage (conv_1x1_s8.c gemm_fused). Such layers take blocks of 6 pixels (gemm_fused6): 18
 * instructions per 24 MACs and each row's fixed cost over 6 outputs, with all 14 registers in
 * the dot products. */
#ifndef TE_GEMM_S8_H
#define TE_GEMM_S8_H

#include <stdint.h>
#include <string.h>

#include "te_fixedpoint.h"
#include "tinyengine.h"

/* Whether the GEMM runs its inline assembly (conv_1x1_s8.c; an -O0 build keeps a frame pointer
 * and takes the portable loops). */
#if TE_USE_DSP && defined(__OPTIMIZE__) && defined(__thumb2__)
#define TE_GEMM_ASM 1
#else
#define TE_GEMM_ASM 0
#endif

/* Four sums in r0-r3 and four words in r8-r11, for inline assembly that moves them with LDM or
 * STM (ascending registers): the GEMM's dot products and FULLY_CONNECTED's loop. */
#define TE_LDM_REGISTERS(A0, A1, A2, A3, X0, X1, X2, X3) \
    register uint32_t A0 __asm__("r0");                   \
    register uint32_t A1 __asm__("r1");                   \
    register uint32_t A2 __asm__("r2");                   \
    register uint32_t A3 __asm__("r3");                   \
    register uint32_t X0 __asm__("r8");                   \
    register uint32_t X1 __asm__("r9");                   \
    register uint32_t X2 __asm__("r10");                  \
    register uint32_t X3 __asm__("r11")

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

/* te_requantize(x, multiplier, -(right + 1)) + offset for multiplier >= 0 and right in
 * [1, TE_GEMM_REQUANT_MAX_RIGHT], with start_hi = ((2 offset + 1) << right) >> 1: what
 * te_requant_fast computes (te_fixedpoint.h), without its borrow step: five instructions on
 * the DSP path (AND, ORR, SUB, SMLAL, ASR) instead of seven.
 * te_requant_fast takes the high word of U - n 2^31 (U = start_hi 2^32 + 2^30 + P,
 * P = x multiplier, n = [(x ^ multiplier) < 0]) as the high word of U less a borrow. Here
 * n 2^31 comes off the start value instead: start_hi 2^32 + 2^30 - n 2^31 =
 * (start_hi - n) 2^32 + (2^30 + n 2^31), a low word below 2^32; and with multiplier >= 0,
 * n = [x < 0]. The 64-bit sum is the same number.
 * One right shift more than TE_REQUANT_FOLD_MAX_RIGHT: |start_hi| <= 255 2^22 = 2^30 - 2^22
 * for right <= 23, the high word of (2^30 + n 2^31) + P lies in [-2^30, 2^30) (P in
 * [-2^62 + 2^31, 2^62 - 2^32)), so start_hi - n plus it stays inside int32 and folding the
 * offset stays exact. tests/harness/requant_check.c checks it against te_requantize. */
#define TE_GEMM_REQUANT_MAX_RIGHT 23

static inline int32_t te_gemm_requant(int32_t x, int32_t multiplier, int32_t start_hi, int32_t right)
{
    const uint32_t sign = (uint32_t)x >> 31;
    uint32_t lo = ((uint32_t)x & 0x80000000u) | 0x40000000u;
    int32_t hi = (int32_t)((uint32_t)start_hi - sign);
    te_smlal(&lo, &hi, x, multiplier);
    return hi >> right;
}

/* The output stage of doubled sums (layers with gemm_double: lowering/conv.py gemm_doubled):
 * te_gemm_requant's result from s2 = 2 x, with start = (2 offset + 1) << right: SMMLAR, ADD,
 * ASR and SSAT's shift (add_rescale's form, add_s8.c), and without the ADD (sign 0) where the
 * offset is -128. SMMLAR gives start + floor((s2 m + 2^31) / 2^32) = start + h with
 * h = floor((x m + 2^30) / 2^31), te_srdhm's value (te_fixedpoint.h, step 1). The rounding
 * right shift by right + 1 (half away from zero) plus the offset is
 * floor((start + h - [h < 0]) / 2^(right + 1)); [x < 0] equals [h < 0] (multiplier >= 0) but
 * at h = 0 with x < 0, where both give the offset. Without the sign term the result differs
 * only where h < 0, where both are at most the offset: with the offset -128 both saturate to
 * -128. Exact where 2 x and start + h - 1 .. start + h fit int32, which the generator proves
 * per layer and channel for every input. */
static inline int32_t te_gemm_requant_doubled(int32_t s2, int32_t multiplier, int32_t start, int32_t right,
                                              int32_t sign)
{
    const int32_t v = te_smmlar(s2, multiplier, start);
    return (int32_t)((uint32_t)v - (sign & (uint32_t)s2 >> 31)) >> right >> 1;
}

/* The output stages of the fused rows (te_gemm.stage): te_gemm_requant, or doubled sums with
 * and without the sign term; and for the channels of right -1 (te_gemm_unshifted_applies),
 * te_srdhm (te_fixedpoint.h: floor((x m + 2^30) / 2^31), no rounding shift after it) from
 * doubled sums by SMMLAR, or from the others in 64 bits. */
enum {
    TE_GEMM_STAGE_PLAIN,
    TE_GEMM_STAGE_DOUBLED,
    TE_GEMM_STAGE_DOUBLED_NO_SIGN,
    TE_GEMM_STAGE_UNSHIFTED,
    TE_GEMM_STAGE_UNSHIFTED_WIDE
};

/* Whether channel (multiplier, right = ~shift) takes te_gemm_requant. */
static inline int te_gemm_requant_applies(int32_t multiplier, int32_t right)
{
    return multiplier >= 0 && (uint32_t)(right - 1) <= (uint32_t)(TE_GEMM_REQUANT_MAX_RIGHT - 1);
}

/* Whether channel (multiplier, right) is one of right -1 (shift 0: a scale in [1/2, 1)), which
 * the fused rows' assembly takes in runs of their own (TE_GEMM_STAGE_UNSHIFTED*). */
static inline int te_gemm_unshifted_applies(int32_t multiplier, int32_t right)
{
    return multiplier >= 0 && right == -1;
}

/* The most int16 values one widened column takes (so the widest column; lowering/conv.py
 * GEMM_SCRATCH_HALVES). */
#define TE_GEMM_SCRATCH_HALVES 1024

/* Columns are read in chunks of 4 bytes, TE_GEMM_MAX_CHUNKS at most (lowering/conv.py routes
 * wider pointwise layers to te_conv_s8). */
#define TE_GEMM_MAX_CHUNKS (TE_GEMM_SCRATCH_HALVES / 4)

/* The most int16 values a block of widened columns takes (lowering/conv.py GEMM_BLOCK_HALVES):
 * two columns' worth, so that layers up to 340 input channels run in blocks of 6 pixels and up
 * to 512 in blocks of 4, whose rows cost the least per MAC. */
#define TE_GEMM_BLOCK_HALVES (2 * TE_GEMM_SCRATCH_HALVES)

/* The block after `block` (6, 4, 2, 1) for fewer pixels (lowering/conv.py smaller_block). */
static inline int32_t te_gemm_smaller_block(int32_t block)
{
    return block == 6 ? 4 : block >> 1;
}

/* A block of b columns of c chunks takes 4 b c halves of scratch. The largest block (6, 4, 2 or
 * 1 pixels; at most 4 where narrow: te_gemm_init) whose columns fit, 0 if a column is too
 * long. */
static inline int32_t te_gemm_max_block(int32_t chunks, int32_t narrow)
{
    if (chunks > TE_GEMM_MAX_CHUNKS) {
        return 0;
    }
    int32_t block = narrow ? 4 : 6;
    while (block > 1 && 4 * block * chunks > TE_GEMM_BLOCK_HALVES) {
        block = te_gemm_smaller_block(block);
    }
    return block;
}

/* The block for the `left` pixels left after blocks of `block`: the largest that fits, but the
 * last 9 pixels as 4, 4 and 1 (measured faster than 6, 2 and 1; lowering/conv.py gemm_blocks). */
static inline int32_t te_gemm_next_block(int32_t block, int32_t left)
{
    while (block > left || (block == 6 && left == 9)) {
        block = te_gemm_smaller_block(block);
    }
    return block;
}

/* The scratch bytes of a GEMM over columns of len bytes: its largest block, widened. */
static inline int32_t te_gemm_scratch_bytes(int32_t len, int32_t narrow)
{
    const int32_t chunks = (len + 3) >> 2;
    return 8 * te_gemm_max_block(chunks, narrow) * chunks;
}

/* Chunk word v (bytes x0..x3 from the low one) as x0, x2, x1, x3 at dst, each doubled where
 * `doubled` (layers with gemm_double: one SADD16 a word; 2 x fits int16). */
static inline void te_gemm_widen_word(uint32_t v, int16_t *dst, int32_t doubled)
{
#if TE_USE_DSP
    uint32_t even = __sxtb16(v), odd = te_sxtb16_ror8(v);
    if (doubled) {
        even = __sadd16(even, even);
        odd = __sadd16(odd, odd);
    }
    memcpy(dst, &even, 4);
    memcpy(dst + 2, &odd, 4);
#else
    const int32_t k = doubled ? 2 : 1;
    dst[0] = (int16_t)(k * (int8_t)(v & 0xffu));
    dst[1] = (int16_t)(k * (int8_t)(v >> 16 & 0xffu));
    dst[2] = (int16_t)(k * (int8_t)(v >> 8 & 0xffu));
    dst[3] = (int16_t)(k * (int8_t)(v >> 24));
#endif
}

/* The last `tail` (1..3) bytes of a column, at x, as the chunk word x0, x1, x2, 0... widened at
 * dst: a last partial chunk is padded with zeros (it meets the rows' zero padding). */
static inline void te_gemm_widen_tail(const int8_t *x, int32_t tail, int16_t *dst, int32_t doubled)
{
    uint32_t v = 0;
    for (int32_t i = tail - 1; i >= 0; i--) {
        v = v << 8 | (uint8_t)x[i];
    }
    te_gemm_widen_word(v, dst, doubled);
}

/* Widens one column of len bytes into slot `slot` of a block of `block` columns at `cols`:
 * chunk k of the column (bytes x0..x3) goes to cols[4 (k block + slot)..+3] as x0, x2, x1, x3,
 * the two words SXTB16 and SXTB16 ROR #8 make of it (so the filter rows keep their natural
 * order), doubled where `doubled`. */
static inline void te_gemm_widen(const int8_t *x, int32_t len, int16_t *cols, int32_t slot, int32_t block,
                                 int32_t doubled)
{
    int16_t *dst = cols + 4 * slot;
    const int32_t step = 4 * block;
    for (int32_t k = len >> 2; k > 0; k--, x += 4, dst += step) {
#if TE_USE_DSP
        te_gemm_widen_word(te_load4(x), dst, doubled);
#else
        /* Little-endian whatever the host's. */
        te_gemm_widen_word((uint32_t)(uint8_t)x[0] | (uint32_t)(uint8_t)x[1] << 8 | (uint32_t)(uint8_t)x[2] << 16 |
                               (uint32_t)(uint8_t)x[3] << 24,
                           dst, doubled);
#endif
    }
    if (len & 3) {
        te_gemm_widen_tail(x, len & 3, dst, doubled);
    }
}

/* te_gemm_widen with its loop instantiated for each value of `doubled` (no test per word). */
static inline void te_gemm_widen_column(const int8_t *x, int32_t len, int16_t *cols, int32_t slot, int32_t block,
                                        int32_t doubled)
{
    if (doubled) {
        te_gemm_widen(x, len, cols, slot, block, 1);
    } else {
        te_gemm_widen(x, len, cols, slot, block, 0);
    }
}

/* te_gemm_widen of the `block` (4 or 6) columns of len bytes at x, x + stride, ... into a block
 * of `block` (conv_1x1_s8.c). */
void te_gemm_widen_pairs(const int8_t *x, int32_t stride, int32_t len, int16_t *cols, int32_t block,
                         int32_t doubled);

/* A layer's GEMM: `filter` holds out_c rows of 4 * chunks bytes ([k_h][k_w][in_c] zero-padded,
 * lowering/conv.py gemm_filter_layout), `bias` is folded with the input offset. */
typedef struct {
    const te_conv_params *p;
    int32_t chunks;
    int32_t full_range; /* [act_min, act_max] covers int8 */
    /* full_range, and every channel takes te_gemm_requant or p->gemm_rows lists those that do
     * not: the others run fused rows */
    int32_t fused;
    /* Where fused, p->gemm_rows or NULL: channels of right -1 run in runs of their own
     * (unshifted_stage: TE_GEMM_STAGE_UNSHIFTED(_WIDE)), the others one at a time in C. */
    const int16_t *general;
    int32_t unshifted_stage;
    int32_t max_block; /* te_gemm_max_block: 6 only where fused and not p->gemm_narrow */
    int32_t doubled;   /* p->gemm_double: columns widened doubled, the bias doubled */
    int32_t stage;     /* TE_GEMM_STAGE_*: the fused rows' output stage */
#if TE_GEMM_ASM
    /* Where fused, per right from -1 (start[right + 1]), one load a row instead of computing it
     * (conv_1x1_s8.c gemm_fused): te_gemm_requant's start_hi (te_gemm_requant_doubled's start
     * where doubled) for right >= 1; for right -1 the offset where doubled, else the high word
     * of offset 2^31 + 2^30, whose low word is unshifted_lo. */
    int32_t start[2 + TE_GEMM_REQUANT_MAX_RIGHT];
    uint32_t unshifted_lo;
#endif
} te_gemm;

/* Columns of len bytes; the caller checks g->max_block > 0 (0 also where p->gemm_double is set
 * on a layer without fused rows, which the generator never does). */
void te_gemm_init(te_gemm *g, const te_conv_params *p, int32_t len);

/* Every output channel of `block` (6, 4, 2 or 1) pixels whose columns te_gemm_widen put in cols:
 * pixel i's channel c is written to out[i * out_c + c], row by row (channel c of every pixel
 * before channel c + 1). Reads nothing but cols and the layer's constants. */
void te_gemm_block(const te_gemm *g, const int16_t *cols, int32_t block, int8_t *out);

#endif
