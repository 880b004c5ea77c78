/* DEPTHWISE_CONV_2D, int8, depth multiplier 1, dilation 1, kernels up to 7 columns wide:
 * bit-exact with tflite::reference_integer_ops::DepthwiseConvPerChannel, faster than
 * te_depthwise_conv_s8.
 *
 * Output pixels are walked in row-major order and each pixel's channels in blocks of 4: every
 * input byte is read no later, relative to the writes, than in te_depthwise_conv_s8, so the
 * same memory overlap holds. A pixel's window is clipped to the input once, so border pixels
 * run without a test per tap.
 *
 * DSP path: two columns of a kernel row at a time. PKHBT/PKHTB put the same two channels of
 * both taps side by side, SXTAB16 sign-extends them and adds the input offset, SXTB16 splits
 * the weights the same way and one SMLAD multiplies-accumulates both taps of a channel; a
 * column alone takes SMLA<x><y>. Square 3x3, 5x5 and 7x7 windows clear of the padding run
 * unrolled (5 and 7 rows in a loop); clipped windows run row by row, each row a jump into the
 * steps its columns need. Requantisation is te_requant_fast's one SMLAL (exact for every
 * accumulator). With a scratch (te_depthwise_conv_s8_fast_get_buffer_size bytes; the generator
 * asks for it where it saves more than it costs, and where the sums doubled fit int32), one of:
 * - whole windows read wide blocks made once per call: int16 weights, doubled, one LDRD for two
 *   channels' taps instead of LDR and two SXTB16, and the doubled sums requantised by SMMLAR;
 * - with te_dw_params.band (3x3 and 5x5 of stride 1, 7x7 of stride 2), the band: the input rows
 *   widened once per call to int16, channel by channel, padding included, so that SMLAD takes
 *   a channel's taps in pairs straight from memory, four outputs a step (dw_band).
 *
 * Generator contract (platformio_tinyengine/lowering/depthwise.py): `blocks` holds, per block
 * of 4 channels (zero for channels past the last), in the order the DSP path reads it, no more
 * than TFLite's own parameters:
 * - the 4 biases;
 * - per kernel row, per pair of columns (a, b) = (2j, 2j + 1), the int8 weights as two words
 *   of bytes c0a c1a c0b c1b and c2a c3a c2b c3b (little-endian), then for an odd k_w the last
 *   column's weights c0 c1 c2 c3 as one word;
 * - the 4 multipliers, then the 4 shifts as bytes, each stored as right = -shift - 1: in
 *   [1, TE_REQUANT_FOLD_MAX_RIGHT] (what the assembly takes) unless the layer has TE_DW_SHIFT_1
 *   (a right 0), TE_DW_SHIFT_0 (-1) or TE_DW_EXACT (any other).
 * With any of these three flags, after the last block: the indices of the whole blocks holding
 * such a channel, ascending, then -1. The DSP path requantises those blocks in C and the others
 * in assembly, in the clipped windows' loop, which then takes the whole windows too, unless the
 * band or the wide blocks take every shift of the layer. */
#include <stdint.h>
#include <string.h>

#include "te_depthwise_mve.h"
#include "te_fixedpoint.h"
#include "te_window.h"
#include "tinyengine.h"

/* The DSP path's inline assembly is Thumb-2 (TBH) and needs 13 free registers: optimised
 * Thumb-2 builds only (an -O0 build keeps a frame pointer and runs the portable path). */
#if TE_USE_DSP && defined(__OPTIMIZE__) && defined(__thumb2__)
#define DW_DSP 1
#include <arm_acle.h>
#else
#define DW_DSP 0
#endif

/* Constant windows inline so their loops unroll; cold paths stay out of line so they do not
 * take registers from the hot ones. */
#if defined(__GNUC__)
#define DW_ALWAYS_INLINE static inline __attribute__((always_inline))
#define DW_NOINLINE static __attribute__((noinline))
#else
#define DW_ALWAYS_INLINE static inline
#define DW_NOINLINE static
#endif

enum { DW_BIAS_WORDS = 4, DW_REC_WORDS = 5 }; /* 4 multipliers and a word of 4 shifts */

/* A wide block (the DSP path's whole k x k windows, k odd, from the scratch): the 4 biases
 * doubled, per kernel row per pair of columns the int16 words [c0a c0b] [c1a c1b] [c2a c2b]
 * [c3a c3b] and for the last column [c0 c2] [c1 c3], every weight doubled, then the records. */
static inline int32_t dw_wide_words(int32_t k)
{
    return DW_BIAS_WORDS + k * (4 * (k >> 1) + 2) + DW_REC_WORDS;
}

/* The band (te_dw_params.band: 3x3 and 5x5 kernels of stride 1, 7x7 of stride 2): per channel a
 * record of dw_band_words(k) words, then a ring of 2k input rows, per row per channel
 * dw_band_cols int16. */
static inline int32_t dw_band_words(int32_t k)
{
    return k == 7 ? 4 + 7 * 4 : 4 + k * (k - 1);
}

/* The padded columns the output row's windows read ((out_w - 1) * stride + k) up to the top half
 * of the last word the steps load; even, so every row starts word-aligned. */
static inline int32_t dw_band_cols(const te_dw_params *p)
{
    return ((p->out_w - 1) * p->stride_w + p->k_w + 2) & ~1;
}

/* The layers the band takes: 3x3 and 5x5 of stride 1, 7x7 of stride 2, shifts from -23 to 0
 * (dw_band_records) requantised without the sign or a clamp, paddings >= 0, rows of at least 4
 * outputs. */
static inline int dw_band_applies(const te_dw_params *p)
{
    const int32_t k = p->k_h, s = p->stride_w;
    return p->band && p->k_w == k && p->stride_h == s && ((s == 1 && (k == 3 || k == 5)) || (s == 2 && k == 7)) &&
           (p->flags & (TE_DW_SIGNED | TE_DW_CLAMP | TE_DW_EXACT)) == 0 && p->pad_top >= 0 && p->pad_left >= 0 &&
           p->out_w >= 4;
}

/* The layers the wide blocks take: square 3x3, 5x5 and 7x7 windows, shifts from -23 to -1
 * (DW16_REQUANTIZE's) requantised without the sign or a clamp, at least 4 channels. */
static inline int dw_wide_applies(const te_dw_params *p)
{
    const int32_t k = p->k_h;
    return p->k_w == k && (k == 3 || k == 5 || k == 7) && p->channels >= 4 &&
           (p->flags & (TE_DW_SIGNED | TE_DW_CLAMP | TE_DW_EXACT | TE_DW_SHIFT_0)) == 0;
}

int32_t te_depthwise_conv_s8_fast_get_buffer_size(const te_dw_params *p)
{
    const int32_t k = p->k_h;
    if (dw_band_applies(p)) {
        return 4 * p->channels * dw_band_words(k) + 4 * k * p->channels * dw_band_cols(p);
    }
    return dw_wide_applies(p) ? 4 * (p->channels >> 2) * dw_wide_words(k) : 0;
}

/* The layer's constants, copied once per call into locals: the compiler need not reload them
 * after every int8 store. */
typedef struct {
    int32_t channels, k_w, row_stride, row_words, block_words;
    int32_t input_offset, output_offset, act_min, act_max;
    const int32_t *blocks;
#if DW_DSP
    int32_t k_h;
    int32_t pixel_stride; /* input bytes from one output pixel's window to the next */
    uint32_t off2;        /* the input offset in both halves (SXTAB16) */
    const int32_t *stop;  /* the records of the first block requantised in C, or NULL */
    const int32_t *listed; /* the generator's list from that block's index on, or NULL where every
                              block is requantised in C (TE_DW_SIGNED, TE_DW_CLAMP) or none */
#endif
} dw_layer;

/* Channel j's requantised accumulator plus the output offset, from the block's records rec:
 * te_requant_fast with its start value built from the shift as the convolutions build it
 * (te_conv_store_pair) where the right shift is in its range, else gemmlowp's steps. */
static inline int32_t dw_requantize(const dw_layer *l, int32_t acc, const int32_t *rec, int32_t j)
{
    const int32_t m = rec[j], right = ((const int8_t *)(rec + 4))[j];
    if ((uint32_t)right > TE_REQUANT_FOLD_MAX_RIGHT) {
        return te_wrapping_add(te_requantize(acc, m, ~right), l->output_offset);
    }
    /* te_requant_prepare's start value (the assembly takes right >= 1 only: 2^30 low). */
    const int32_t start_hi = (int32_t)((2u * (uint32_t)l->output_offset + 1u) << right) >> 1;
    return te_requant_fast(acc, m, right ? 0x40000000u : 0xC0000000u, start_hi, right);
}

static inline int32_t dw_clamp(int32_t y, int32_t lo, int32_t hi)
{
    return y < lo ? lo : (y > hi ? hi : y);
}

/* Channel j's weight at column kx of the kernel row starting at `row` (paired = k_w & ~1). */
static inline int32_t dw_weight(const int32_t *row, int32_t kx, int32_t j, int32_t paired)
{
    const int8_t *bytes = (const int8_t *)row;
    return kx < paired ? bytes[8 * (kx >> 1) + 4 * (j >> 1) + 2 * (kx & 1) + (j & 1)] : bytes[4 * paired + j];
}

/* Output channels [c0, channels) of one pixel, scalar: kernel rows [ky0, ky0 + kh) and columns
 * [kx0, kx1) of the window (of a kernel k_w wide), from `in` (channel 0 of the window's first
 * input pixel). Sums wrap like TFLite's int32 arithmetic. */
DW_ALWAYS_INLINE void dw_channels_in(const dw_layer *l, const int8_t *in, int32_t ky0, int32_t kh, int32_t kx0,
                                     int32_t kx1, int32_t k_w, int32_t c0, int8_t *out)
{
    const int32_t channels = l->channels, offset = l->input_offset, row_words = l->row_words;
    const int32_t row_stride = l->row_stride, block_words = l->block_words, paired = k_w & ~1;
    for (int32_t c = c0; c < channels; c++) {
        const int32_t *block = l->blocks + (size_t)(c >> 2) * block_words;
        const int32_t *row = block + DW_BIAS_WORDS + ky0 * row_words;
        const int32_t j = c & 3;
        const int8_t *x = in + c;
        uint32_t acc = (uint32_t)block[j];
        for (int32_t ky = 0; ky < kh; ky++, x += row_stride, row += row_words) {
            for (int32_t kx = kx0; kx < kx1; kx++) {
                acc += (uint32_t)((x[(kx - kx0) * channels] + offset) * dw_weight(row, kx, j, paired));
            }
        }
        const int32_t y = dw_requantize(l, (int32_t)acc, block + block_words - DW_REC_WORDS, j);
        out[c] = (int8_t)dw_clamp(y, l->act_min, l->act_max);
    }
}

DW_NOINLINE void dw_channels(const dw_layer *l, const int8_t *in, int32_t ky0, int32_t kh, int32_t kx0, int32_t kx1,
                             int32_t c0, int8_t *out)
{
    dw_channels_in(l, in, ky0, kh, kx0, kx1, l->k_w, c0, out);
}

#if DW_DSP
/* The block loops are inline assembly. GCC 12 has no PKHBT, PKHTB or rotated SXTB16 from C or
 * ACLE, and left to itself it splits the loads and spills sums and pointers in every unrolled
 * window; here 14 registers hold the whole state. The assembly does not declare its reads of
 * the input and of `blocks`: the kernel never writes `blocks`, and no store of the kernel lands
 * on an input byte read after it (the overlap it declares is proved in that order), so moving
 * the stores across the reads either way changes nothing. */

/* Sign-extending two bytes of X (rotated by ROR) into D and adding the input offset. */
#define DW_EXT(D, X, ROR) "sxtab16 " D ", %[o], " X ROR "\n\t"
/* Channel K's weights: SXTB16 of the word in u (rotated by ROR) into v, then INSN with the
 * input halves in X. */
#define DW_MAC(INSN, K, X, ROR) "sxtb16 %[v], %[u]" ROR "\n\t" INSN " %[s" K "], " X ", %[v], %[s" K "]\n\t"

/* Columns 2j (input word a) and 2j + 1 (b): channels 0, 1 of both taps side by side (t), then
 * 2, 3 (b), one SMLAD per channel with its two weights; w moves on by 4 then INC bytes. */
#define DW_PAIR_INC(INC)                                                                     \
    "pkhbt %[t], %[a], %[b], lsl #16\n\t"                                                    \
    "pkhtb %[b], %[b], %[a], asr #16\n\t"                                                    \
    "ldr %[u], [%[w]], #4\n\t" DW_EXT("%[a]", "%[t]", "") DW_EXT("%[t]", "%[t]", ", ror #8") \
    DW_MAC("smlad", "0", "%[a]", "") DW_MAC("smlad", "1", "%[t]", ", ror #8")                \
    "ldr %[u], [%[w]], #" INC "\n\t" DW_EXT("%[a]", "%[b]", "") DW_EXT("%[b]", "%[b]", ", ror #8") \
    DW_MAC("smlad", "2", "%[a]", "") DW_MAC("smlad", "3", "%[b]", ", ror #8")
#define DW_PAIR DW_PAIR_INC("4")

/* One column (input word a): t holds channels 0 and 2, a channels 1 and 3. */
#define DW_SPLIT "ldr %[u], [%[w]], #4\n\t" DW_EXT("%[t]", "%[a]", "") DW_EXT("%[a]", "%[a]", ", ror #8")

/* The last column of an odd k_w from its word c0 c1 c2 c3; w moves on by INC bytes. */
#define DW_LAST_INC(INC)                                                                          \
    "ldr %[u], [%[w]], #" INC "\n\t" DW_EXT("%[t]", "%[a]", "") DW_EXT("%[a]", "%[a]", ", ror #8") \
    "sxtb16 %[v], %[u]\n\t"                                                                       \
    "smlabb %[s0], %[t], %[v], %[s0]\n\t"                                                         \
    "smlatt %[s2], %[t], %[v], %[s2]\n\t" DW_MAC("smlabb", "1", "%[a]", ", ror #8")               \
    "smlatt %[s3], %[a], %[v], %[s3]\n\t"
#define DW_LAST DW_LAST_INC("4")

/* One column whose weights are the first (B) or second (T) column of a pair's words; w moves
 * on by 4 then INC bytes. */
#define DW_HALF_INC(H, INC)                                                                     \
    DW_SPLIT DW_MAC("smlab" H, "0", "%[t]", "") DW_MAC("smlab" H, "1", "%[a]", ", ror #8")       \
    "ldr %[u], [%[w]], #" INC "\n\t" DW_MAC("smlat" H, "2", "%[t]", "") DW_MAC("smlat" H, "3", "%[a]", ", ror #8")
#define DW_HALF(H) DW_HALF_INC(H, "4")

/* Input words: a pair at q, q + step; the same moving q on by two columns; the column after. */
#define DW_LOAD_PAIR "ldr %[a], [%[q]]\n\t" "ldr %[b], [%[q], %[c]]\n\t"
#define DW_LOAD_PAIR_ON DW_LOAD_PAIR "add %[q], %[q], %[c], lsl #1\n\t"
#define DW_LOAD_THIRD "ldr %[a], [%[q], %[c], lsl #1]\n\t"

/* Whole rows of 3, 5, 7 columns; all but a window's last row end with q at the next row (r:
 * the row stride less the columns q moved over). */
#define DW_LAST3 DW_LOAD_PAIR DW_PAIR DW_LOAD_THIRD DW_LAST
#define DW_LAST5 DW_LOAD_PAIR_ON DW_PAIR DW_LAST3
#define DW_LAST7 DW_LOAD_PAIR_ON DW_PAIR DW_LAST5
#define DW_ROW3 DW_LAST3 "add %[q], %[q], %[r]\n\t"
#define DW_ROW5 DW_LAST5 "add %[q], %[q], %[r]\n\t"
#define DW_ROW7 DW_LAST7 "add %[q], %[q], %[r]\n\t"
/* 5 or 7 rows in a loop (unrolled they would take 0.4 and 0.7 KB more flash), ending where w
 * passes the block's last weights (BYTES further); q ends a row further on than unrolled rows
 * leave it. */
#define DW_ROWS(ROW, BYTES)                                                            \
    "add %[t], %[w], #" #BYTES "\n\t"                                                   \
    "str %[t], %[rows_end]\n"                                                          \
    ".Ldw%=row:\n\t" ROW                                                               \
    "ldr %[t], %[rows_end]\n\t"                                                       \
    "cmp %[w], %[t]\n\t"                                                              \
    "bne .Ldw%=row\n\t"

/* dw_requantize of sum S (no flags) saturated to int8 into S: w at its multiplier, u the output
 * offset times 2 plus 1, v's low byte its right less 1 (the start value's shift; SSAT's shift
 * makes up the last bit of the final one). */
#define DW_REQUANTIZE(S)                   \
    "ldr %[t], [%[w]], #4\n\t"             \
    "mov %[a], #0x40000000\n\t"            \
    "lsl %[b], %[u], %[v]\n\t"             \
    "smlal %[a], %[b], %[" S "], %[t]\n\t" \
    "asr %[b], %[b], %[v]\n\t"             \
    "ssat %[" S "], #8, %[b], asr #1\n\t"
/* The four sums from the records at w (left at the next block) requantised by REQUANTIZE, each
 * right shift first adjusted by RIGHTS, packed into s0. */
#define DW_REQUANTIZE_BLOCK(RIGHTS, REQUANTIZE)                                                    \
    "ldr %[v], [%[w], #16]\n\t" RIGHTS                                                             \
    "ldr %[u], %[odd]\n\t" REQUANTIZE("s0") "lsr %[v], %[v], #8\n\t" REQUANTIZE("s1")              \
    "lsr %[v], %[v], #8\n\t" REQUANTIZE("s2") "lsr %[v], %[v], #8\n\t" REQUANTIZE("s3")            \
    "add %[w], %[w], #4\n\t"                                                                       \
    "bfi %[s0], %[s1], #8, #8\n\t"                                                                 \
    "bfi %[s0], %[s2], #16, #8\n\t"                                                                \
    "bfi %[s0], %[s3], #24, #8\n\t"
/* Every right is at least 1: one SUB takes 1 from the four bytes without a borrow between them. */
#define DW_REQUANTIZE4 DW_REQUANTIZE_BLOCK("sub %[v], %[v], #0x01010101\n\t", DW_REQUANTIZE)

#define DW_SUMS [s0] "=&r"(s.a0), [s1] "=&r"(s.a1), [s2] "=&r"(s.a2), [s3] "=&r"(s.a3)
#define DW_TEMPS [a] "=&r"(a), [b] "=&r"(b), [t] "=&r"(t), [u] "=&r"(u), [v] "=&r"(v)

/* The wide blocks of the scratch (dw_widen): the same steps with every weight already an int16,
 * doubled, so one LDRD gives two channels' weights; the sums are doubled too. */
#define DW16_PAIR                                                                                  \
    "pkhbt %[t], %[a], %[b], lsl #16\n\t"                                                          \
    "pkhtb %[b], %[b], %[a], asr #16\n\t" DW_EXT("%[a]", "%[t]", "") DW_EXT("%[t]", "%[t]", ", ror #8") \
    "ldrd %[u], %[v], [%[w]], #8\n\t"                                                              \
    "smlad %[s0], %[a], %[u], %[s0]\n\t"                                                           \
    "smlad %[s1], %[t], %[v], %[s1]\n\t" DW_EXT("%[a]", "%[b]", "") DW_EXT("%[b]", "%[b]", ", ror #8") \
    "ldrd %[u], %[v], [%[w]], #8\n\t"                                                              \
    "smlad %[s2], %[a], %[u], %[s2]\n\t"                                                           \
    "smlad %[s3], %[b], %[v], %[s3]\n\t"
/* The last column: channels 0 and 2 (t), 1 and 3 (a) against their weights' words. */
#define DW16_LAST                                                                                  \
    DW_EXT("%[t]", "%[a]", "") DW_EXT("%[a]", "%[a]", ", ror #8")                                  \
    "ldrd %[u], %[v], [%[w]], #8\n\t"                                                              \
    "smlabb %[s0], %[t], %[u], %[s0]\n\t"                                                          \
    "smlatt %[s2], %[t], %[u], %[s2]\n\t"                                                          \
    "smlabb %[s1], %[a], %[v], %[s1]\n\t"                                                          \
    "smlatt %[s3], %[a], %[v], %[s3]\n\t"
#define DW16_LAST3 DW_LOAD_PAIR DW16_PAIR DW_LOAD_THIRD DW16_LAST
#define DW16_LAST5 DW_LOAD_PAIR_ON DW16_PAIR DW16_LAST3
#define DW16_ROW3 DW16_LAST3 "add %[q], %[q], %[r]\n\t"
#define DW16_ROW5 DW16_LAST5 "add %[q], %[q], %[r]\n\t"
#define DW16_ROW7 DW_LOAD_PAIR_ON DW16_PAIR DW_LOAD_PAIR_ON DW16_PAIR DW16_ROW3

/* dw_requantize of the doubled sum S: with P = S * m / 2, the SMLAL form's
 * (P + 2^30 + 2^32 * start_hi) >> (32 + right) is (2P + 2^31 + 2^32 * 2 start_hi) >> (33 + right),
 * SMMLAR's rounded high word with 2 start_hi = (2 * output offset + 1) << right added, shifted
 * by right + 1 (exact while the doubled sum fits: the generator checks the biases and weights;
 * for right 0, the 2^31 of te_requant_fast's start value is the 1 of 2 * output offset + 1).
 * w at the multiplier, u the output offset times 2 plus 1, v's low byte the right. */
#define DW16_REQUANTIZE(S)                    \
    "ldr %[t], [%[w]], #4\n\t"                \
    "lsl %[b], %[u], %[v]\n\t"                \
    "smmlar %[b], %[" S "], %[t], %[b]\n\t"   \
    "asr %[b], %[b], %[v]\n\t"                \
    "ssat %[" S "], #8, %[b], asr #1\n\t"
#define DW16_REQUANTIZE4 DW_REQUANTIZE_BLOCK("", DW16_REQUANTIZE)

/* A block's four sums (s0: the packed output once requantised). */
typedef struct {
    uint32_t a0, a1, a2, a3;
} dw_acc;

/* Whole k x k windows (k = 3, 5 or 7) of n consecutive output pixels, layers without flags:
 * per pixel one loop in assembly over its blocks (the biases, the rows, the requantisation, the
 * store), q moving on to the next block's input. q: the first pixel's window; wide: the
 * scratch's wide blocks (dw_widen) or NULL for the layer's own. */
DW_ALWAYS_INLINE void dw_whole(const dw_layer *l, const int8_t *q, int8_t *out, int32_t n, int32_t k,
                               const int32_t *wide)
{
    const int32_t step = l->channels, blocks = step >> 2;
    const uint32_t off2 = l->off2;
    /* From the last row's moved q back to the next block's input. */
    const int32_t skip = l->row_stride - 2 * ((k >> 1) - 1) * step;
    const int32_t back = k * l->row_stride - 4 - (k == 3 ? skip : 0);
    const int32_t *rows_end; /* DW_ROWS' */
    const int32_t odd = 2 * l->output_offset + 1;
    const int32_t *const first = wide ? wide : l->blocks;
    const int32_t *const w_end = first + blocks * (wide ? dw_wide_words(k) : l->block_words);
    for (; n > 0; n--) {
        if (blocks > 0) {
            const int32_t *w = first;
            /* Block i's output from the next block's input q + 4 * (i + 1): both move on by 4 a
             * block (addresses as integers: they point into different arrays). */
            const uint32_t to_out = (uint32_t)(uintptr_t)out - (uint32_t)(uintptr_t)q - 4u;
            const int8_t *x = q;
            uint32_t s0, s1, s2, s3, a, b, t, u, v;
#define DW_WHOLE(ROWS, REQUANTIZE4)                                                                         \
    __asm__ volatile(".Ldw%=block:\n\t"                                                                     \
            "ldrd %[s0], %[s1], [%[w]], #8\n\t"                                                             \
            "ldrd %[s2], %[s3], [%[w]], #8\n\t" ROWS REQUANTIZE4 "ldr %[t], %[back]\n\t"                    \
            "sub %[q], %[q], %[t]\n\t"                                                                      \
            "ldr %[t], %[to_out]\n\t"                                                                       \
            "str %[s0], [%[q], %[t]]\n\t"                                                                   \
            "ldr %[t], %[w_end]\n\t"                                                                        \
            "cmp %[w], %[t]\n\t"                                                                            \
            "bne .Ldw%=block"                                                                               \
            : [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [q] "+r"(x), [w] "+r"(w), DW_TEMPS, \
              [rows_end] "=m"(rows_end)                                                                        \
            : [c] "r"(step), [r] "r"(skip), [o] "r"(off2), [back] "m"(back), [odd] "m"(odd),                    \
              [to_out] "m"(to_out), [w_end] "m"(w_end)                                                       \
            : "cc", "memory")
            if (wide) {
                if (k == 3) {
                    DW_WHOLE(DW16_ROW3 DW16_ROW3 DW16_LAST3, DW16_REQUANTIZE4);
                } else if (k == 5) {
                    DW_WHOLE(DW_ROWS(DW16_ROW5, 200), DW16_REQUANTIZE4);
                } else {
                    DW_WHOLE(DW_ROWS(DW16_ROW7, 392), DW16_REQUANTIZE4);
                }
            } else if (k == 3) {
                DW_WHOLE(DW_ROW3 DW_ROW3 DW_LAST3, DW_REQUANTIZE4);
            } else if (k == 5) {
                DW_WHOLE(DW_ROWS(DW_ROW5, 100), DW_REQUANTIZE4);
            } else {
                DW_WHOLE(DW_ROWS(DW_ROW7, 196), DW_REQUANTIZE4);
            }
#undef DW_WHOLE
        }
        out += 4 * blocks;
        if (step & 3) {
            dw_channels(l, q, 0, k, 0, k, 4 * blocks, out - 4 * blocks);
            out += step & 3;
        }
        q += l->pixel_stride;
    }
}

/* Bytes 0 and 2 of w as doubled int16 lanes. */
static inline int32_t dw_wide_pair(uint32_t w)
{
    const int16x2_t x = __sxtb16((int8x4_t)w);
    return __sadd16(x, x);
}

typedef struct {
    int32_t words[DW_REC_WORDS];
} dw_records;

/* The layer's blocks widened into `wide` (dw_wide_words(k) words a block) for dw_whole. */
static void dw_widen(const dw_layer *l, int32_t k, int32_t *restrict wide)
{
    const int32_t *restrict x = l->blocks;
    for (int32_t i = 0; i < l->channels >> 2; i++) {
        for (int32_t j = 0; j < DW_BIAS_WORDS; j++) {
            *wide++ = (int32_t)(2u * (uint32_t)*x++);
        }
        for (int32_t row = 0; row < k; row++) {
            /* Per pair of columns c0a c1a c0b c1b, c2a c3a c2b c3b; the last column c0 c1 c2 c3. */
            for (int32_t j = 0; j < k >> 1; j++) {
                const uint32_t w0 = (uint32_t)*x++, w1 = (uint32_t)*x++;
                const int32_t c0 = dw_wide_pair(w0), c1 = dw_wide_pair(w0 >> 8);
                const int32_t c2 = dw_wide_pair(w1), c3 = dw_wide_pair(w1 >> 8);
                *wide++ = c0;
                *wide++ = c1;
                *wide++ = c2;
                *wide++ = c3;
            }
            const uint32_t last = (uint32_t)*x++;
            *wide++ = dw_wide_pair(last);
            *wide++ = dw_wide_pair(last >> 8);
        }
        /* One copy of the 5 words (GCC turns a loop of them into a call to memmove). */
        *(dw_records *)(void *)wide = *(const dw_records *)(const void *)x;
        wide += DW_REC_WORDS;
        x += DW_REC_WORDS;
    }
}

/* The band (3x3 and 5x5, stride 1): the input rows an output row reads, widened once into the
 * scratch and laid out per channel (x + input offset as int16, zero in the padding), so that
 * every window is whole and SMLAD reads a channel's taps in pairs straight from memory, never
 * re-pairing them per window. An output row is computed channel by channel, four outputs a step
 * (dw_band_steps), with the requantisation of the wide blocks on sums doubled through the
 * weights (the generator checks they fit).
 *
 * The ring holds padded input row r (r - pad_top an input row or the padding) in slots r mod k
 * and r mod k + k, so that the k rows of an output row lie at one stride; each row is widened
 * once, when the first output row reading it starts. Output row y reads rows y to y + k - 1,
 * all in the ring before any byte of row y is written. So the overlap window_kernel_gap allows
 * still holds: every input byte read for row y lies at or above the first byte window (y, 0)
 * reads (its first row from column 0, as pad_left >= 0), which no output pixel before (y, 0)
 * may clobber; the writes of row y itself come after its reads. */

/* Per channel: the doubled bias, per kernel row its doubled weights as the int16 pairs of columns
 * [w0 w1] [w2 w3] ... (k / 2 of them), then for stride 1 the same shifted by a column,
 * [w1 w2] [w3 w4] ..., for stride 2 the last column [w_{k-1} 0]; then the multiplier, the start
 * value (2 output offset + 1) 2^right rounded down and right + 1 (DW16_REQUANTIZE's). For right -1
 * (shift 0) that is the output offset and no shift: the rounded high word of the doubled sum
 * times the multiplier is te_srdhm's, te_requantize's result. */
DW_NOINLINE void dw_band_records(const dw_layer *l, int32_t k, uint32_t *restrict d)
{
    const int32_t pairs = k >> 1, row = k == 7 ? pairs + 1 : 2 * pairs;
    const uint32_t odd = 2u * (uint32_t)l->output_offset + 1u;
    for (int32_t c = 0; c < l->channels; c++) {
        const int32_t *block = l->blocks + (c >> 2) * l->block_words, j = c & 3;
        const int32_t *r = block + l->block_words - DW_REC_WORDS;
        const int32_t right = ((const int8_t *)(r + 4))[j];
        /* Channel j's columns 2i and 2i + 1: bytes j & 1 and 2 + (j & 1) of pair i's word j >> 1;
         * the last column: byte j of the row's last word. */
        const int32_t *w = block + DW_BIAS_WORDS;
        *d++ = 2u * (uint32_t)block[j];
        for (int32_t ky = 0; ky < k; ky++, w += l->row_words, d += row) {
            for (int32_t i = 0; i < pairs; i++) {
                d[i] = (uint32_t)dw_wide_pair((uint32_t)w[2 * i + (j >> 1)] >> (8 * (j & 1)));
            }
            const uint32_t last = (uint32_t)(2 * ((const int8_t *)(w + 2 * pairs))[j]);
            if (k == 7) {
                d[pairs] = last & 0xffffu;
            } else {
                for (int32_t i = 0; i + 1 < pairs; i++) {
                    d[pairs + i] = d[i] >> 16 | d[i + 1] << 16;
                }
                d[2 * pairs - 1] = d[pairs - 1] >> 16 | last << 16;
            }
        }
        *d++ = (uint32_t)r[j];
        *d++ = (uint32_t)((int32_t)(odd << (right + 1)) >> 1);
        *d++ = (uint32_t)right + 1u;
    }
}

/* Input row `in` (width pixels) widened into the ring rows `dst` and `dst + dup` of channel 0
 * (channel c's at + c * cols): two pixels of 4 channels a step, SXTAB16 adding the input offset
 * and PKHBT/PKHTB pairing each channel's two values (in assembly: GCC 12 makes PKHBT of neither
 * C nor ACLE, and spills the row offsets). */
DW_NOINLINE void dw_band_widen(const int8_t *in, int16_t *dst, int32_t dup, int32_t channels, int32_t cols,
                               int32_t width, uint32_t off2)
{
    const int32_t offset = (int16_t)off2, row = 2 * cols, row3 = 3 * row;
    int32_t c = 0;
    for (; c + 4 <= channels; c += 4, dst += 4 * cols) {
        const int8_t *x = in + c;
        int16_t *d = dst, *e = dst + dup;
        const int16_t *const d_end = dst + (width & ~1);
        if (width >= 2) {
            uint32_t a, b, f, g, h;
            __asm__ volatile(".Ldwbw%=:\n\t"
                    "ldr %[a], [%[x]]\n\t"
                    "ldr %[b], [%[x], %[ch]]\n\t"
                    "add %[x], %[x], %[ch], lsl #1\n\t"
                    "sxtab16 %[f], %[o], %[a]\n\t"
                    "sxtab16 %[g], %[o], %[b]\n\t"
                    "sxtab16 %[a], %[o], %[a], ror #8\n\t"
                    "sxtab16 %[b], %[o], %[b], ror #8\n\t"
                    "pkhbt %[h], %[f], %[g], lsl #16\n\t"
                    "pkhtb %[f], %[g], %[f], asr #16\n\t"
                    "str %[f], [%[d], %[row], lsl #1]\n\t"
                    "str %[f], [%[e], %[row], lsl #1]\n\t"
                    "pkhbt %[g], %[a], %[b], lsl #16\n\t"
                    "pkhtb %[a], %[b], %[a], asr #16\n\t"
                    "str %[g], [%[d], %[row]]\n\t"
                    "str %[g], [%[e], %[row]]\n\t"
                    "str %[a], [%[d], %[row3]]\n\t"
                    "str %[a], [%[e], %[row3]]\n\t"
                    "str %[h], [%[e]], #4\n\t"
                    "str %[h], [%[d]], #4\n\t"
                    "cmp %[d], %[end]\n\t"
                    "bne .Ldwbw%="
                    : [x] "+r"(x), [d] "+r"(d), [e] "+r"(e), [a] "=&r"(a), [b] "=&r"(b), [f] "=&r"(f), [g] "=&r"(g),
                      [h] "=&r"(h)
                    : [ch] "r"(channels), [o] "r"(off2), [row] "r"(row), [row3] "r"(row3), [end] "r"(d_end)
                    : "memory");
        }
        if (width & 1) {
            for (int32_t j = 0; j < 4; j++) {
                d[j * cols] = d[dup + j * cols] = (int16_t)(x[j] + offset);
            }
        }
    }
    for (; c < channels; c++, dst += cols) {
        for (int32_t i = 0; i < width; i++) {
            dst[i] = dst[dup + i] = (int16_t)(in[i * channels + c] + offset);
        }
    }
}

/* One kernel row of a step at R: four outputs' sums a0..a3 (output i's window from column i) from
 * the aligned words of columns 0-1, 2-3, ... (in t and u, each loaded once) against the row's
 * weight words loaded one at a time into W: output i's pairs from [w0 w1] [w2 w3] ... on words
 * at column i (i even) or from [w1 w2] [w3 w4] ... on words at column i + 1 (i odd), whose
 * column i takes the bottom of [w0 w1] (SMLATB); the last column of the even outputs the top
 * of the last shifted pair (SMLABT). The first [w0 w1]'s sums start from S0..S3 (the bias, in
 * a3, for the first row). */
#define DWB_W "ldr %[W], [%[w]], #4\n\t"
#define DWB_LD(X, R, OFF) "ldr %[" X "], [%[" R "], #" OFF "]\n\t"
#define DWB_MAC(INSN, A, X, S) INSN " %[" A "], %[" X "], %[W], %[" S "]\n\t"
#define DWB_FIRST(R, S0, S1, S2, S3)                                                                  \
    DWB_W DWB_LD("t", R, "0") DWB_LD("u", R, "4") DWB_MAC("smlad", "a0", "t", S0)                       \
    DWB_MAC("smlatb", "a1", "t", S1) DWB_MAC("smlad", "a2", "u", S2) DWB_MAC("smlatb", "a3", "u", S3)
#define DWB_ROW3(R, S0, S1, S2, S3)                                                                   \
    DWB_FIRST(R, S0, S1, S2, S3) DWB_W DWB_LD("t", R, "8") DWB_MAC("smlad", "a1", "u", "a1")            \
    DWB_MAC("smlad", "a3", "t", "a3") DWB_MAC("smlabt", "a0", "u", "a0") DWB_MAC("smlabt", "a2", "t", "a2")
#define DWB_ROW5(R, S0, S1, S2, S3)                                                                   \
    DWB_FIRST(R, S0, S1, S2, S3) DWB_W DWB_LD("t", R, "8") DWB_MAC("smlad", "a0", "u", "a0")            \
    DWB_MAC("smlad", "a2", "t", "a2") DWB_W DWB_MAC("smlad", "a1", "u", "a1") DWB_MAC("smlad", "a3", "t", "a3") \
    DWB_LD("u", R, "12") DWB_W DWB_MAC("smlad", "a1", "t", "a1") DWB_MAC("smlad", "a3", "u", "a3")       \
    DWB_MAC("smlabt", "a0", "t", "a0") DWB_MAC("smlabt", "a2", "u", "a2")
/* Stride 2 (7x7): output i's pairs are the words at columns 2i, 2i + 2, ...; t and u carry the
 * words of outputs 1 and 2 to the next pair (its outputs 0 and 1, registers swapped a pair), and
 * the last column [w6 0] takes the bottom halves. */
#define DWB2_PAIR(INSN, R, J, X, Y)                                                                   \
    DWB_W DWB_MAC(INSN, "a1", X, "a1") DWB_MAC(INSN, "a2", Y, "a2") DWB_LD(X, R, "4 * " #J)              \
    DWB_MAC(INSN, "a0", X, "a0") DWB_LD(X, R, "4 * " #J " + 12") DWB_MAC(INSN, "a3", X, "a3")
#define DWB_ROW7(R, S0, S1, S2, S3)                                                                   \
    DWB_W DWB_LD("t", R, "0") DWB_MAC("smlad", "a0", "t", S0) DWB_LD("t", R, "4")                       \
    DWB_MAC("smlad", "a1", "t", S1) DWB_LD("t", R, "8") DWB_MAC("smlad", "a2", "t", S2)                 \
    DWB_LD("u", R, "12") DWB_MAC("smlad", "a3", "u", S3) DWB2_PAIR("smlad", R, 1, "t", "u")             \
    DWB2_PAIR("smlad", R, 2, "u", "t") DWB2_PAIR("smlabb", R, 3, "t", "u")
#define DWB_NEXT_ROW "add %[r], %[r], %[rs]\n\t"
#define DWB_RING3(ROW) ROW("q", "a3", "a3", "a3", "a3") "add %[r], %[q], %[rs]\n\t" ROW("r", "a0", "a1", "a2", "a3") DWB_NEXT_ROW \
    ROW("r", "a0", "a1", "a2", "a3")
#define DWB_RING5(ROW) DWB_RING3(ROW) DWB_NEXT_ROW ROW("r", "a0", "a1", "a2", "a3") DWB_NEXT_ROW ROW("r", "a0", "a1", "a2", "a3")
#define DWB_RING7(ROW) DWB_RING5(ROW) DWB_NEXT_ROW ROW("r", "a0", "a1", "a2", "a3") DWB_NEXT_ROW ROW("r", "a0", "a1", "a2", "a3")

/* Every channel's outputs o, o + oc, ... (4 * steps of them; the next channel's from o + 1), 4 a
 * step: q at channel 0's first window in the ring (the next channel's cols further), rs bytes
 * from a ring row to the next, w channel 0's record. After the rows, the four sums requantised
 * (DW16_REQUANTIZE) and stored, w back to the record. */
#define DWB_REQ(A) "smmlar %[" A "], %[" A "], %[W], %[t]\n\t" "asr %[" A "], %[" A "], %[u]\n\t" \
    "ssat %[" A "], #8, %[" A "]\n\t"
#define DWB_STEPS(ROWS, WORDS, ON)                                                                          \
    __asm__ volatile(".Ldwb%=:\n\t"                                                                       \
            "ldr %[a3], [%[w]], #4\n\t" ROWS                                                              \
            "ldrd %[W], %[t], [%[w]]\n\t"                                                                 \
            "ldr %[u], [%[w], #8]\n\t" DWB_REQ("a0") DWB_REQ("a1") DWB_REQ("a2") DWB_REQ("a3")          \
            "sub %[w], %[w], #4 * (" #WORDS " - 3)\n\t"                                                   \
            "strb %[a0], [%[o]]\n\t"                                                                      \
            "strb %[a1], [%[o], %[oc]]\n\t"                                                               \
            "add %[o], %[o], %[oc], lsl #1\n\t"                                                           \
            "strb %[a2], [%[o]]\n\t"                                                                      \
            "strb %[a3], [%[o], %[oc]]\n\t"                                                               \
            "add %[o], %[o], %[oc], lsl #1\n\t"                                                           \
            "add %[q], %[q], #" #ON "\n\t"                                                                \
            "cmp %[o], %[end]\n\t"                                                                        \
            "bne .Ldwb%=\n\t"                                                                             \
            "ldr %[t], %[o_back]\n\t"                                                                     \
            "sub %[o], %[o], %[t]\n\t"                                                                    \
            "ldr %[t], %[q_on]\n\t"                                                                       \
            "add %[q], %[q], %[t]\n\t"                                                                    \
            "add %[end], %[end], #1\n\t"                                                                  \
            "add %[w], %[w], #4 * " #WORDS "\n\t"                                                         \
            "ldr %[t], %[w_end]\n\t"                                                                      \
            "cmp %[w], %[t]\n\t"                                                                          \
            "bne .Ldwb%="                                                                                 \
            : [q] "+r"(q), [r] "=&r"(r), [w] "+r"(w), [W] "=&r"(W), [a0] "=&r"(a0), [a1] "=&r"(a1),       \
              [a2] "=&r"(a2), [a3] "=&r"(a3), [t] "=&r"(t), [u] "=&r"(u), [o] "+r"(o), [end] "+r"(end)    \
            : [rs] "r"(rs), [oc] "r"(oc), [o_back] "m"(o_back), [q_on] "m"(q_on), [w_end] "m"(w_end)    \
            : "memory")
DW_ALWAYS_INLINE void dw_band_steps(const int16_t *q, int32_t rs, const uint32_t *w, int8_t *o, int32_t oc,
                                    int32_t steps, int32_t cols, int32_t channels, int32_t k)
{
    const int8_t *end = o + 4 * steps * oc;
    /* From a channel's last step to the next channel's first (output bytes, ring bytes). */
    const int32_t o_back = 4 * steps * oc - 1, q_on = 2 * cols - (k == 7 ? 16 : 8) * steps;
    const uint32_t *const w_end = w + channels * dw_band_words(k);
    const int16_t *r;
    uint32_t W, a0, a1, a2, a3, t, u;
    if (k == 3) {
        DWB_STEPS(DWB_RING3(DWB_ROW3), 10, 8);
    } else if (k == 5) {
        DWB_STEPS(DWB_RING5(DWB_ROW5), 24, 8);
    } else {
        DWB_STEPS(DWB_RING7(DWB_ROW7), 32, 16);
    }
}

DW_NOINLINE void dw_band_steps3(const int16_t *q, int32_t rs, const uint32_t *w, int8_t *o, int32_t oc,
                                int32_t steps, int32_t cols, int32_t channels)
{
    dw_band_steps(q, rs, w, o, oc, steps, cols, channels, 3);
}

DW_NOINLINE void dw_band_steps5(const int16_t *q, int32_t rs, const uint32_t *w, int8_t *o, int32_t oc,
                                int32_t steps, int32_t cols, int32_t channels)
{
    dw_band_steps(q, rs, w, o, oc, steps, cols, channels, 5);
}

DW_NOINLINE void dw_band_steps7(const int16_t *q, int32_t rs, const uint32_t *w, int8_t *o, int32_t oc,
                                int32_t steps, int32_t cols, int32_t channels)
{
    dw_band_steps(q, rs, w, o, oc, steps, cols, channels, 7);
}

/* The whole layer on the band in `scratch` (dw_band_applies). */
DW_NOINLINE void dw_band(const dw_layer *l, const te_dw_params *p, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t k = p->k_h, channels = p->channels, cols = dw_band_cols(p), plane = channels * cols;
    const int32_t out_w = p->out_w;
    uint32_t *const rec = scratch;
    int16_t *const ring = (int16_t *)(rec + channels * dw_band_words(k));
    const int32_t width = p->in_w < cols - p->pad_left ? p->in_w : cols - p->pad_left;
    void (*const steps)(const int16_t *, int32_t, const uint32_t *, int8_t *, int32_t, int32_t, int32_t, int32_t) =
        k == 3 ? dw_band_steps3 : k == 5 ? dw_band_steps5 : dw_band_steps7;
    const int32_t s = p->stride_w;
    dw_band_records(l, k, rec);
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * channels;
        /* Padding columns and the rows above the input stay zero. */
        memset(ring, 0, 4u * (size_t)k * (size_t)plane);
        for (int32_t oy = 0; oy < p->out_h; oy++, output += out_w * channels) {
            /* Padded rows s oy to s oy + k - 1: widen those not widened yet (all at first). */
            const int32_t r0 = s * oy;
            for (int32_t r = oy ? r0 + k - s : 0; r < r0 + k; r++) {
                const int32_t iy = r - p->pad_top;
                int16_t *dst = ring + (r % k) * plane;
                if (iy >= p->in_h) {
                    memset(dst, 0, 2u * (size_t)plane);
                    memset(dst + k * plane, 0, 2u * (size_t)plane);
                } else if (iy >= 0) {
                    dw_band_widen(in_b + (size_t)iy * p->in_w * channels, dst + p->pad_left, k * plane, channels,
                                  cols, width, l->off2);
                }
            }
            const int16_t *q = ring + (r0 % k) * plane;
            steps(q, 2 * plane, rec, output, channels, out_w >> 2, cols, channels);
            if (out_w & 3) {
                /* The last 4 outputs again (the same bytes where they overlap the steps'). */
                steps(q + s * (out_w - 4), 2 * plane, rec, output + (out_w - 4) * channels, channels, 1, cols,
                      channels);
            }
        }
    }
}

/* A clipped window: what the assembly reads per block (from memory: it has no register left). */
typedef struct {
    int32_t shape;  /* the row's steps: tail * 8 + lead * 4 + pairs (tail: none, a column alone, the
                       last column of an odd k_w; lead: an odd first column alone) */
    int32_t first;  /* bytes from the block's start to the first row's first step's weights */
    struct {
        int32_t q; /* bytes from where a row's steps leave q to the next row */
        int32_t w; /* bytes from where a row's steps leave w to the next row's weights */
    } skip;         /* one LDRD */
    int32_t to_records; /* bytes from the weights after the last row to the records */
    int32_t back;   /* bytes from the input after the last row back to the next block's */
    int32_t span;   /* bytes from the window's first row to after its last (kh rows) */
    const int32_t *stop; /* the records of the next block requantised in C, or NULL */
    int32_t odd;     /* the output offset times 2 plus 1 (DW_REQUANTIZE4) */
    uint32_t to_out; /* a block's output from the next block's input (as in dw_whole) */
    const int32_t *w_end; /* the end of the blocks */
} dw_clip;

/* Row bodies of one tail: entries for 3..0 pairs after an optional lead. */
#define DW_STEP_H "ldr %[a], [%[q]]\n\t" "add %[q], %[q], %[c]\n\t" DW_HALF("t")
#define DW_STEP_P DW_LOAD_PAIR_ON DW_PAIR
#define DW_BODIES(N, TAIL)                                                                        \
    ".Ldw%=h3" N ":\n\t" DW_STEP_H ".Ldw%=p3" N ":\n\t" DW_STEP_P ".Ldw%=p2" N ":\n\t" DW_STEP_P   \
    ".Ldw%=p1" N ":\n\t" DW_STEP_P ".Ldw%=p0" N ":\n\t" TAIL "b .Ldw%=end\n\t"                     \
    ".Ldw%=h2" N ":\n\t" DW_STEP_H "b .Ldw%=p2" N "\n\t"                                           \
    ".Ldw%=h1" N ":\n\t" DW_STEP_H "b .Ldw%=p1" N "\n\t"                                           \
    ".Ldw%=h0" N ":\n\t" DW_STEP_H "b .Ldw%=p0" N "\n\t"
#define DW_ENTRIES(N)                                                                             \
    ".hword (.Ldw%=p0" N " - .Ldw%=tbl) / 2, (.Ldw%=p1" N " - .Ldw%=tbl) / 2\n\t"                   \
    ".hword (.Ldw%=p2" N " - .Ldw%=tbl) / 2, (.Ldw%=p3" N " - .Ldw%=tbl) / 2\n\t"                   \
    ".hword (.Ldw%=h0" N " - .Ldw%=tbl) / 2, (.Ldw%=h1" N " - .Ldw%=tbl) / 2\n\t"                   \
    ".hword (.Ldw%=h2" N " - .Ldw%=tbl) / 2, (.Ldw%=h3" N " - .Ldw%=tbl) / 2\n\t"

/* After a clipped window's rows: w to the records, q to the next block's input; unless these
 * records are d->stop (a block requantised in C: it leaves with the sums, w at the records), the
 * requantisation and the store too, then the next block until the last. */
#define DW_CLIPPED_END                 \
    "ldr %[t], %[rec]\n\t"             \
    "add %[w], %[w], %[t]\n\t"         \
    "ldr %[t], %[back]\n\t"            \
    "sub %[q], %[q], %[t]\n\t"         \
    "ldr %[t], %[stop]\n\t"            \
    "cmp %[w], %[t]\n\t"               \
    "beq .Ldw%=sums\n\t" DW_REQUANTIZE4 \
    "ldr %[t], %[to_out]\n\t"          \
    "str %[s0], [%[q], %[t]]\n\t"      \
    "ldr %[t], %[w_end]\n\t"           \
    "cmp %[w], %[t]\n\t"               \
    "bne .Ldw%=block\n"                 \
    ".Ldw%=sums:"

/* Before a clipped window's rows: the block's biases start the sums, w moves to the first
 * row's first step's weights. */
#define DW_CLIPPED_START                \
    ".Ldw%=block:\n\t"                 \
    "ldrd %[s0], %[s1], [%[w]]\n\t"      \
    "ldrd %[s2], %[s3], [%[w], #8]\n\t"  \
    "ldr %[t], %[first]\n\t"             \
    "add %[w], %[w], %[t]\n\t"

/* One block over a clipped window (see DW_CLIPPED_END); w from the block's start, q from the
 * window's first input pixel. */
DW_ALWAYS_INLINE dw_acc dw_clipped_sums(const int8_t **qp, const int32_t **wp, int32_t step, uint32_t off2,
                                        dw_clip *d)
{
    const int8_t *q = *qp;
    const int32_t *w = *wp;
    dw_acc s;
    uint32_t a, b, t, u, v;
    const int8_t *q_end; /* where q stops: the window's first row plus span */
    __asm__ volatile(DW_CLIPPED_START
            "ldr %[e], %[span]\n\t"
            "add %[e], %[q], %[e]\n"
            ".Ldw%=row:\n\t"
            "ldr %[t], %[shape]\n\t"
            "tbh [pc, %[t], lsl #1]\n"
            ".Ldw%=tbl:\n\t" DW_ENTRIES("n") DW_ENTRIES("h") DW_ENTRIES("l")
            DW_BODIES("n", "")
            DW_BODIES("h", "ldr %[a], [%[q]]\n\t" DW_HALF("b"))
            DW_BODIES("l", "ldr %[a], [%[q]]\n\t" DW_LAST)
            ".Ldw%=end:\n\t"
            "ldrd %[t], %[u], %[skip]\n\t"
            "add %[q], %[q], %[t]\n\t"
            "add %[w], %[w], %[u]\n\t"
            "cmp %[q], %[e]\n\t"
            "bne .Ldw%=row\n\t" DW_CLIPPED_END
            : DW_SUMS, [q] "+r"(q), [w] "+r"(w), [e] "=&r"(q_end), DW_TEMPS
            : [c] "r"(step), [o] "r"(off2), [shape] "m"(d->shape), [first] "m"(d->first), [skip] "m"(d->skip),
              [rec] "m"(d->to_records), [back] "m"(d->back), [span] "m"(d->span), [stop] "m"(d->stop),
              [odd] "m"(d->odd), [to_out] "m"(d->to_out), [w_end] "m"(d->w_end)
            : "cc", "memory");
    *qp = q;
    *wp = w;
    return s;
}

/* The same for kernels of 3 columns and at most 3 rows, without a loop: each of the six column
 * ranges ([0, 3), [1, 3), [0, 2), [0, 1), [1, 2), [2, 3)) has its rows unrolled, entered at the
 * row that leaves kh of them, and its weights' skip to the next row folded into its last load.
 * d->shape: the range's index * 3 + 3 - kh; d->skip.q: the input's row stride. */
#define DW_ROW3_END "add %[q], %[q], %[qs]\n\t"
#define DW_RANGE3(N, ROW) \
    ".Ldw%=r" N "a:\n\t" ROW DW_ROW3_END ".Ldw%=r" N "b:\n\t" ROW DW_ROW3_END ".Ldw%=r" N "c:\n\t" ROW DW_ROW3_END \
    "b .Ldw%=end\n\t"
#define DW_ENTRIES3(N) \
    ".hword (.Ldw%=r" N "a - .Ldw%=tbl) / 2, (.Ldw%=r" N "b - .Ldw%=tbl) / 2, (.Ldw%=r" N "c - .Ldw%=tbl) / 2\n\t"
#define DW_LOAD_ONE "ldr %[a], [%[q]]\n\t"

DW_ALWAYS_INLINE dw_acc dw_clipped3_sums(const int8_t **qp, const int32_t **wp, int32_t step, uint32_t off2,
                                         const dw_clip *d)
{
    const int8_t *q = *qp;
    const int32_t *w = *wp;
    dw_acc s;
    uint32_t a, b, t, u, v;
    __asm__ volatile(DW_CLIPPED_START
            "ldr %[t], %[shape]\n\t"
            "tbh [pc, %[t], lsl #1]\n"
            ".Ldw%=tbl:\n\t" DW_ENTRIES3("0") DW_ENTRIES3("1") DW_ENTRIES3("2") DW_ENTRIES3("3") DW_ENTRIES3("4")
            DW_ENTRIES3("5")
            DW_RANGE3("0", DW_LOAD_PAIR DW_PAIR DW_LOAD_THIRD DW_LAST)
            DW_RANGE3("1", DW_LOAD_ONE DW_HALF("t") "ldr %[a], [%[q], %[c]]\n\t" DW_LAST)
            DW_RANGE3("2", DW_LOAD_PAIR DW_PAIR_INC("8"))
            DW_RANGE3("3", DW_LOAD_ONE DW_HALF_INC("b", "8"))
            DW_RANGE3("4", DW_LOAD_ONE DW_HALF_INC("t", "8"))
            DW_RANGE3("5", DW_LOAD_ONE DW_LAST_INC("12"))
            ".Ldw%=end:\n\t" DW_CLIPPED_END
            : DW_SUMS, [q] "+r"(q), [w] "+r"(w), DW_TEMPS
            : [c] "r"(step), [o] "r"(off2), [shape] "m"(d->shape), [first] "m"(d->first), [qs] "r"(d->skip.q),
              [rec] "m"(d->to_records), [back] "m"(d->back), [stop] "m"(d->stop), [odd] "m"(d->odd),
              [to_out] "m"(d->to_out), [w_end] "m"(d->w_end)
            : "cc", "memory");
    *qp = q;
    *wp = w;
    return s;
}

/* The four sums requantised in C (dw_requantize, clamped to [act_min, act_max]) from the
 * block's records r, packed. Out of line, the sums as arguments: the common path keeps them in
 * registers. */
DW_NOINLINE uint32_t dw_requantize4_general(int32_t a0, int32_t a1, int32_t a2, int32_t a3, const dw_layer *l,
                                            const int32_t *r)
{
    uint32_t packed = (uint8_t)__ssat(dw_requantize(l, a0, r, 0), 8) |
                      (uint32_t)(uint8_t)__ssat(dw_requantize(l, a1, r, 1), 8) << 8 |
                      (uint32_t)(uint8_t)__ssat(dw_requantize(l, a2, r, 2), 8) << 16 |
                      (uint32_t)(uint8_t)__ssat(dw_requantize(l, a3, r, 3), 8) << 24;
    /* Four bytes clamped together: SSUB8 sets the GE flags SEL reads. */
    const uint32_t lo = ((uint32_t)l->act_min & 0xffu) * 0x01010101u;
    const uint32_t hi = ((uint32_t)l->act_max & 0xffu) * 0x01010101u;
    (void)__ssub8(packed, lo);
    packed = __sel(packed, lo);
    (void)__ssub8(hi, packed);
    return __sel(packed, hi);
}

/* The four output bytes of a block requantised in C, from its sums (w at the records, left at
 * the next block). */
DW_ALWAYS_INLINE void dw_store(const dw_layer *l, dw_acc s, const int32_t **w, int8_t *out)
{
    const uint32_t packed =
        dw_requantize4_general((int32_t)s.a0, (int32_t)s.a1, (int32_t)s.a2, (int32_t)s.a3, l, *w);
    *w += DW_REC_WORDS;
    memcpy(out, &packed, 4);
}

/* Block i's records, or NULL for i = -1 (the end of the generator's list). */
static inline const int32_t *dw_stop_at(const int32_t *blocks, int32_t block_words, int32_t i)
{
    return i < 0 ? NULL : blocks + (i + 1) * block_words - DW_REC_WORDS;
}

/* Every block of a pixel whose window is kernel rows [ky0, ky0 + kh) and columns [kx0, kx1)
 * (q: the window's first input pixel; none if either range is empty). */
static void dw_clipped(const dw_layer *l, const int8_t *q, int8_t *out, int32_t ky0, int32_t kh, int32_t kx0,
                       int32_t kx1)
{
    const int32_t step = l->channels, row_bytes = 4 * l->row_words;
    if (kh == 0 || kx1 <= kx0) {
        int32_t c = 0;
        /* A window entirely in the padding (patch-based tiles): the biases alone. */
        for (const int32_t *b = l->blocks; c + 4 <= step; c += 4, b += l->block_words) {
            const uint32_t packed = dw_requantize4_general(b[0], b[1], b[2], b[3], l, b + l->block_words - DW_REC_WORDS);
            memcpy(out + c, &packed, 4);
        }
        if (c < step) {
            dw_channels(l, q, ky0, 0, kx0, kx0, c, out);
        }
        return;
    }
    const int32_t lead = kx0 & 1, pairs = (kx1 - kx0 - lead) >> 1;
    const int32_t rest = kx1 - kx0 - lead - 2 * pairs; /* 0 or 1 column after the pairs */
    const int32_t last = rest && kx1 == l->k_w && (l->k_w & 1);
    const int32_t tail = last ? 2 : rest;
    const int32_t first = 4 * (DW_BIAS_WORDS + ky0 * l->row_words + (kx0 >> 1) * 2);
    const int32_t w_step = 4 * (2 * (lead + pairs + (tail == 1)) + last); /* weights a row's steps read */
    /* Kernels of 3 columns and at most 3 rows: the unrolled form (see dw_clipped3_sums). */
    static const uint8_t range3[3][4] = {{0, 3, 2, 0}, {0, 0, 4, 1}, {0, 0, 0, 5}}; /* [kx0][kx1] */
    const int32_t three = l->k_w == 3 && l->k_h <= 3;
    dw_clip d = {
        .shape = three ? range3[kx0][kx1] * 3 + 3 - kh : tail * 8 + lead * 4 + pairs,
        .first = first,
        .skip = {three ? l->row_stride : l->row_stride - (lead + 2 * pairs) * step, row_bytes - w_step},
        .to_records = 4 * (l->block_words - DW_REC_WORDS) - first - kh * row_bytes,
        .back = kh * l->row_stride - 4,
        .span = kh * l->row_stride,
        .stop = l->stop,
        .odd = 2 * l->output_offset + 1,
        .to_out = (uint32_t)(uintptr_t)out - (uint32_t)(uintptr_t)q - 4u,
        .w_end = l->blocks + (step >> 2) * l->block_words,
    };
    const int32_t *w = l->blocks;
    const int8_t *x = q;
    const int32_t *listed = l->listed;
    /* SMLAD wraps like TFLite's int32 arithmetic: the bias may start the sums. Each call stores
     * the blocks before d.stop's and returns its sums, or stores them all. */
    if (step >= 4) {
        for (;;) {
            const dw_acc s = three ? dw_clipped3_sums(&x, &w, step, l->off2, &d)
                                   : dw_clipped_sums(&x, &w, step, l->off2, &d);
            if (d.stop == NULL) {
                break;
            }
            /* x is at the next block's input. */
            dw_store(l, s, &w, out + (x - q) - 4);
            if (w == d.w_end) {
                break;
            }
            d.stop = listed != NULL ? dw_stop_at(l->blocks, l->block_words, *++listed)
                                    : w + l->block_words - DW_REC_WORDS;
        }
    }
    if (step & 3) {
        dw_channels(l, q, ky0, kh, kx0, kx1, step & ~3, out);
    }
}
#endif

te_status te_depthwise_conv_s8_fast(const te_dw_params *p, const int8_t *input, int8_t *output, void *scratch)
{
    if (p == NULL || input == NULL || output == NULL || p->blocks == NULL || p->k_w > 7) {
        return TE_ERROR_ARGUMENT;
    }
#if TE_DW_MVE
    if (te_depthwise_mve_applies(p)) {
        return te_depthwise_conv_s8_mve(p, input, output);
    }
#endif
    const int32_t row_words = 2 * (p->k_w >> 1) + (p->k_w & 1);
    const int32_t block_words = DW_BIAS_WORDS + p->k_h * row_words + DW_REC_WORDS;
#if DW_DSP
    /* The blocks requantised in C: every one with TE_DW_SIGNED or TE_DW_CLAMP, else those the
     * generator lists after the last block. */
    const int32_t general = p->flags & (TE_DW_SIGNED | TE_DW_CLAMP);
    const int32_t *const listed = general || !(p->flags & (TE_DW_EXACT | TE_DW_SHIFT_1 | TE_DW_SHIFT_0))
                                      ? NULL
                                      : p->blocks + ((p->channels + 3) >> 2) * block_words;
    const int32_t *const stop = dw_stop_at(p->blocks, block_words, general ? 0 : listed ? *listed : -1);
#endif
    const dw_layer l = {
        .channels = p->channels, .k_w = p->k_w, .row_stride = p->in_w * p->channels, .row_words = row_words,
        .block_words = block_words, .input_offset = p->input_offset, .output_offset = p->output_offset,
        .act_min = p->act_min, .act_max = p->act_max, .blocks = p->blocks,
#if DW_DSP
        .k_h = p->k_h, .pixel_stride = p->stride_w * p->channels,
        .off2 = ((uint32_t)p->input_offset & 0xffffu) * 0x10001u, .stop = stop, .listed = listed,
#endif
    };
    const int32_t k_h = p->k_h, k_w = p->k_w, in_h = p->in_h, in_w = p->in_w, channels = p->channels;
    const int32_t stride_w = p->stride_w;
#if DW_DSP
    if (dw_band_applies(p) && scratch != NULL) {
        dw_band(&l, p, input, output, scratch);
        return TE_OK;
    }
    /* Square 3x3, 5x5 and 7x7 windows: with a scratch their weights are widened once per call
     * (fewer instructions a window). */
    int32_t *const wide = dw_wide_applies(p) ? (int32_t *)scratch : NULL;
    if (wide != NULL) {
        dw_widen(&l, k_h, wide);
    }
    /* Their whole windows run unrolled, every block requantised in assembly: on the wide blocks,
     * which take every listed block's shifts, or without a block for C. */
    const int32_t unrolled = k_h == k_w && (k_h == 3 || k_h == 5 || k_h == 7) && (wide != NULL || stop == NULL);
#else
    (void)scratch;
#endif
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
                /* A window entirely in the padding (patch-based tiles) reads nothing. */
                const int8_t *q = kh > 0 && kw > 0 ? in_row + (size_t)(x0 + kx0) * channels : in_b;
#if DW_DSP
                if (unrolled && kh == k_h && kw == k_w) {
                    /* The run of whole windows from here: x0 + (n - 1) * stride_w + k_w <= in_w. */
                    int32_t n = (in_w - k_w - x0) / stride_w + 1;
                    n = n < p->out_w - ox ? n : p->out_w - ox;
                    if (k_h == 3) {
                        dw_whole(&l, q, out, n, 3, wide);
                    } else if (k_h == 5) {
                        dw_whole(&l, q, out, n, 5, wide);
                    } else {
                        dw_whole(&l, q, out, n, 7, wide);
                    }
                    ox += n;
                    out += n * channels;
                    continue;
                }
                dw_clipped(&l, q, out, ky0, kh, kx0, kx0 + kw);
#else
                if (kh == k_h && kw == k_w && k_h == 3 && k_w == 3) {
                    dw_channels_in(&l, q, 0, 3, 0, 3, 3, 0, out);
                } else if (kh == k_h && kw == k_w && k_h == 5 && k_w == 5) {
                    dw_channels_in(&l, q, 0, 5, 0, 5, 5, 0, out);
                } else if (kh == k_h && kw == k_w && k_h == 7 && k_w == 7) {
                    dw_channels_in(&l, q, 0, 7, 0, 7, 7, 0, out);
                } else {
                    dw_channels(&l, q, ky0, kh, kx0, kx0 + kw, 0, out);
                }
#endif
                ox++;
                out += channels;
            }
        }
    }
    return TE_OK;
}
