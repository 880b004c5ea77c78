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
 * both taps side by side, SXTB16 sign-extends them (SXTAB16 also adds the input offset) and one
 * SMLAD multiplies-accumulates both taps of a channel; a column alone takes SMLA<x><y>. Square
 * 3x3, 5x5 and 7x7 windows clear of the padding run fully unrolled with the input offset
 * folded into the bias; clipped windows run row by row, each row a jump into the steps its
 * columns need.
 *
 * Generator contract (platformio_tinyengine/lowering/depthwise.py): `blocks` holds, per block
 * of 4 channels (zero for channels past the last), in the order the DSP path reads it:
 * - the 4 biases less input_offset times the sum of the channel's weights (for windows clear
 *   of the padding), then the 4 biases;
 * - per kernel row, per pair of columns (2j, 2j + 1), one word per channel holding the two
 *   taps' int16 weights (column 2j in the low half), then for an odd k_w the last column as two
 *   words: channels 0 and 2, 1 and 3 (low half first);
 * - per channel a record of dw_requantize's constants, 4 words (6 with TE_DW_SIGNED; with
 *   TE_DW_EXACT the multiplier, the shift and the output offset for te_requantize, the weights
 *   unscaled: layers with a channel the 64-bit form cannot give exactly).
 * A channel whose output cannot depend on its input (a zero multiplier, or accumulators that
 * all round and clamp to one value) has zero weights and biases and a record giving that value. */
#include <stdint.h>
#include <string.h>

#include "te_fixedpoint.h"
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

enum { DW_BIAS_WORDS = 8, DW_REC_WORDS = 4, DW_REC_WORDS_SIGNED = 6 };

/* te_requantize(acc, mult, shift) + output_offset as one 64-bit multiply-accumulate and one
 * shift: the high word of acc * mult + Z, shifted right by the record's last word. Record:
 * Z (low, high word), with TE_DW_SIGNED Z for negative accumulators, then mult and the shift.
 * With s = SRDHM(acc, mult) = floor((acc*mult + 2^30) / 2^31) (gemmlowp's truncating nudge
 * equals this floor) and e = -shift >= 1, rounding_divide_by_pot rounds half away from zero:
 *   floor((s + 2^(e-1) - [acc < 0]) / 2^e) + off
 *     = floor((acc*mult + 2^30 + 2^(30+e) + off*2^(31+e) - [acc < 0]*2^31) / 2^(31+e))
 * ([s < 0] = [acc < 0] but where s = 0 and both forms give 0; floor(floor(y/m)/n) =
 * floor(y/(mn))): Z = 2^30 + 2^(30+e) + off*2^(31+e) (- 2^31) and the shift is e - 1. The
 * [acc < 0] term only matters when output_offset > act_min (TE_DW_SIGNED): otherwise acc < 0
 * gives s <= 0, a rounded value <= 0 either way and an output clamped to act_min. With
 * shift = L >= 0, SRDHM(acc << L, mult) + off = floor((acc*2^(L+1)*mult + 2^31 + off*2^32) / 2^32):
 * the generator scales that channel's weights and biases by 2^(L+1) (only where the scaled
 * accumulator cannot overflow), Z = 2^31 + off*2^32 and the shift is 0. The generator checks
 * that the high word fits in 32 bits for every accumulator the channel can reach. */
static inline int32_t dw_requantize(int32_t acc, const int32_t *r, int32_t flags)
{
    if (flags & TE_DW_EXACT) {
        return te_wrapping_add(te_requantize(acc, r[0], r[1]), r[2]);
    }
    const int32_t signed_round = flags & TE_DW_SIGNED;
    const int32_t *z = signed_round ? r + ((uint32_t)acc >> 31) * 2 : r;
    const int32_t *m = signed_round ? r + 4 : r + 2;
    const int64_t start = (int64_t)(((uint64_t)(uint32_t)z[1] << 32) | (uint32_t)z[0]);
    return (int32_t)((start + (int64_t)acc * m[0]) >> 32) >> m[1];
}

static inline int32_t dw_clamp(int32_t y, int32_t lo, int32_t hi)
{
    return y < lo ? lo : (y > hi ? hi : y);
}

/* The layer's constants, copied once per call into locals: the compiler need not reload them
 * after every int8 store. */
typedef struct {
    int32_t channels, k_w, row_stride, row_words, block_words, rec_words;
    int32_t input_offset, act_min, act_max, flags;
    const int32_t *blocks;
#if DW_DSP
    int32_t k_h;
    int32_t pixel_stride; /* input bytes from one output pixel's window to the next */
    uint32_t off2;        /* the input offset in both halves (SXTAB16) */
#endif
} dw_layer;

/* The low (high = 0) or high int16 half of a weight word. */
static inline int32_t dw_half(uint32_t word, int32_t high)
{
    return (int32_t)(word << (16 - 16 * high)) >> 16;
}

/* Output channels [c0, channels) of one pixel, scalar: kernel rows [ky0, ky0 + kh) and columns
 * [kx0, kx1) of the window (of a kernel k_w wide), from `in` (channel 0 of the window's first
 * input pixel). Sums wrap like TFLite's int32 arithmetic. */
DW_ALWAYS_INLINE void dw_channels_in(const dw_layer *l, const int8_t *in, int32_t ky0, int32_t kh, int32_t kx0,
                                     int32_t kx1, int32_t k_w, int32_t c0, int8_t *out)
{
    const int32_t channels = l->channels, offset = l->input_offset, row_words = l->row_words;
    const int32_t row_stride = l->row_stride, block_words = l->block_words, rec_words = l->rec_words;
    const int32_t paired = k_w & ~1; /* columns stored in pairs; an odd k_w's last one alone */
    const int32_t pair_end = kx1 < paired ? kx1 : paired, flags = l->flags;
    for (int32_t c = c0; c < channels; c++) {
        const int32_t *block = l->blocks + (size_t)(c >> 2) * block_words;
        const int32_t *row = block + DW_BIAS_WORDS + ky0 * row_words;
        const int32_t j = c & 3;
        const int8_t *x0 = in + c;
        uint32_t acc = (uint32_t)block[4 + j];
        for (int32_t ky = 0; ky < kh; ky++, x0 += row_stride, row += row_words) {
            const int8_t *x = x0;
            const int32_t *w = row + (kx0 >> 1) * 4 + j;
            int32_t kx = kx0;
            if (kx & 1 && kx < pair_end) { /* the high half of its pair */
                acc += (uint32_t)((*x + offset) * dw_half((uint32_t)*w, 1));
                kx++;
                x += channels;
                w += 4;
            }
            for (; kx + 1 < pair_end; kx += 2, x += 2 * channels, w += 4) {
                acc += (uint32_t)((x[0] + offset) * dw_half((uint32_t)*w, 0) +
                                  (x[channels] + offset) * dw_half((uint32_t)*w, 1));
            }
            if (kx < pair_end) { /* the low half of its pair */
                acc += (uint32_t)((*x + offset) * dw_half((uint32_t)*w, 0));
                kx++;
                x += channels;
            }
            if (kx < kx1) { /* the last column of an odd k_w */
                acc += (uint32_t)((*x + offset) * dw_half((uint32_t)row[paired * 2 + (j & 1)], j >> 1));
            }
        }
        const int32_t y = dw_requantize((int32_t)acc, block + block_words - (4 - j) * rec_words, flags);
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
 * ACLE, and left to itself it splits the weight loads and spills sums and pointers in every
 * unrolled window; here 13 registers hold the whole state. The assembly does not declare its
 * reads of the input and of `blocks`: the kernel never writes `blocks`, and no store of the
 * kernel lands on an input byte read after it (the overlap it declares is proved in that
 * order), so moving the stores across the reads either way changes nothing. */

/* Sign-extending two bytes of X (rotated by ROR) into D, without or with the input offset. */
#define DW_EXT(D, X, ROR) "sxtb16 " D ", " X ROR "\n\t"
#define DW_EXT_OFFSET(D, X, ROR) "sxtab16 " D ", %[o], " X ROR "\n\t"

/* Columns 2j (input word a) and 2j + 1 (b): channels 0, 1 of both taps side by side (t), then
 * 2, 3 (b), one SMLAD per channel with the weights' low and high halves; w moves on by 8 then
 * INC bytes. */
#define DW_PAIR_INC(EXT, INC)                                                                      \
    "pkhbt %[t], %[a], %[b], lsl #16\n\t"                                                          \
    "pkhtb %[b], %[b], %[a], asr #16\n\t"                                                          \
    "ldrd %[u], %[v], [%[w]], #8\n\t" EXT("%[a]", "%[t]", "") "smlad %[s0], %[a], %[u], %[s0]\n\t" \
    EXT("%[t]", "%[t]", ", ror #8") "smlad %[s1], %[t], %[v], %[s1]\n\t"                           \
    "ldrd %[u], %[v], [%[w]], #" INC "\n\t" EXT("%[a]", "%[b]", "")                                \
    "smlad %[s2], %[a], %[u], %[s2]\n\t" EXT("%[b]", "%[b]", ", ror #8")                           \
    "smlad %[s3], %[b], %[v], %[s3]\n\t"
#define DW_PAIR(EXT) DW_PAIR_INC(EXT, "8")

/* The last column of an odd k_w (input word a), from its two words: channels 0 and 2, 1 and 3;
 * w moves on by INC bytes. */
#define DW_LAST_INC(EXT, INC)                                                                     \
    "ldrd %[u], %[v], [%[w]], #" INC "\n\t" EXT("%[t]", "%[a]", "") EXT("%[a]", "%[a]", ", ror #8") \
    "smlabb %[s0], %[t], %[u], %[s0]\n\t"                                                         \
    "smlatt %[s2], %[t], %[u], %[s2]\n\t"                                                         \
    "smlabb %[s1], %[a], %[v], %[s1]\n\t"                                                         \
    "smlatt %[s3], %[a], %[v], %[s3]\n\t"
#define DW_LAST(EXT) DW_LAST_INC(EXT, "8")

/* One column (input word a) whose weights are the low (B) or high (T) halves of a pair's words,
 * with the input offset; w moves on by 8 then INC bytes. */
#define DW_HALF_INC(H, INC)                                                                       \
    "ldrd %[u], %[v], [%[w]], #8\n\t" DW_EXT_OFFSET("%[t]", "%[a]", "")                           \
    DW_EXT_OFFSET("%[a]", "%[a]", ", ror #8")                                                     \
    "smlab" H " %[s0], %[t], %[u], %[s0]\n\t"                                                     \
    "smlab" H " %[s1], %[a], %[v], %[s1]\n\t"                                                     \
    "ldrd %[u], %[v], [%[w]], #" INC "\n\t"                                                       \
    "smlat" H " %[s2], %[t], %[u], %[s2]\n\t"                                                     \
    "smlat" H " %[s3], %[a], %[v], %[s3]\n\t"
#define DW_HALF(H) DW_HALF_INC(H, "8")

/* Input words: a pair at q, q + step; the same moving q on by two columns; the column after. */
#define DW_LOAD_PAIR "ldr %[a], [%[q]]\n\t" "ldr %[b], [%[q], %[c]]\n\t"
#define DW_LOAD_PAIR_ON DW_LOAD_PAIR "add %[q], %[q], %[c], lsl #1\n\t"
#define DW_LOAD_THIRD "ldr %[a], [%[q], %[c], lsl #1]\n\t"

/* Whole rows of 3, 5, 7 columns without the input offset; all but a window's last row end with
 * q at the next row (r: the row stride less the columns q moved over). */
#define DW_LAST3 DW_LOAD_PAIR DW_PAIR(DW_EXT) DW_LOAD_THIRD DW_LAST(DW_EXT)
#define DW_LAST5 DW_LOAD_PAIR_ON DW_PAIR(DW_EXT) DW_LAST3
#define DW_LAST7 DW_LOAD_PAIR_ON DW_PAIR(DW_EXT) DW_LAST5
#define DW_ROW3 DW_LAST3 "add %[q], %[q], %[r]\n\t"
#define DW_ROW5 DW_LAST5 "add %[q], %[q], %[r]\n\t"
#define DW_ROW7 DW_LAST7 "add %[q], %[q], %[r]\n\t"

/* dw_requantize of sum S (no TE_DW_SIGNED) from the record at w, saturated to int8 into S. */
#define DW_REQUANTIZE(S)                   \
    "ldrd %[a], %[b], [%[w]], #8\n\t"      \
    "ldrd %[t], %[u], [%[w]], #8\n\t"      \
    "smlal %[a], %[b], %[" S "], %[t]\n\t" \
    "asr %[b], %[b], %[u]\n\t"             \
    "ssat %[" S "], #8, %[b]\n\t"
#define DW_REQUANTIZE4                                                           \
    DW_REQUANTIZE("s0") DW_REQUANTIZE("s1") DW_REQUANTIZE("s2") DW_REQUANTIZE("s3") \
    "bfi %[s0], %[s1], #8, #8\n\t"                                               \
    "bfi %[s0], %[s2], #16, #8\n\t"                                              \
    "bfi %[s0], %[s3], #24, #8\n\t"

#define DW_SUMS [s0] "=&r"(s.a0), [s1] "=&r"(s.a1), [s2] "=&r"(s.a2), [s3] "=&r"(s.a3)
#define DW_TEMPS [a] "=&r"(a), [b] "=&r"(b), [t] "=&r"(t), [u] "=&r"(u), [v] "=&r"(v)

/* A block's four sums (s0: the packed output once requantised). */
typedef struct {
    uint32_t a0, a1, a2, a3;
} dw_acc;

/* Whole k x k windows (k = 3, 5 or 7) of n consecutive output pixels, layers without
 * TE_DW_SIGNED or TE_DW_CLAMP: per block the folded biases, the rows, the requantisation; q
 * moves on to the next block's input. q: the first pixel's window. */
DW_ALWAYS_INLINE void dw_whole(const dw_layer *l, const int8_t *q, int8_t *out, int32_t n, int32_t k)
{
    const int32_t step = l->channels, blocks = step >> 2;
    /* From the last row's moved q back to the next block's input. */
    const int32_t skip = l->row_stride - 2 * ((k >> 1) - 1) * step, back = k * l->row_stride - skip - 4;
    for (; n > 0; n--) {
        const int32_t *w = l->blocks;
        for (int32_t i = blocks; i > 0; i--, out += 4) {
            uint32_t s0, s1, s2, s3, a, b, t, u, v;
#define DW_WHOLE(ROWS)                                                                              \
    __asm__("ldrd %[s0], %[s1], [%[w]], #8\n\t"                                                     \
            "ldrd %[s2], %[s3], [%[w]], #24\n\t" ROWS DW_REQUANTIZE4 "ldr %[t], %[back]\n\t"        \
            "sub %[q], %[q], %[t]"                                                                  \
            : [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [q] "+r"(q), [w] "+r"(w), \
              DW_TEMPS                                                                              \
            : [c] "r"(step), [r] "r"(skip), [back] "m"(back))
            if (k == 3) {
                DW_WHOLE(DW_ROW3 DW_ROW3 DW_LAST3);
            } else if (k == 5) {
                DW_WHOLE(DW_ROW5 DW_ROW5 DW_ROW5 DW_ROW5 DW_LAST5);
            } else {
                DW_WHOLE(DW_ROW7 DW_ROW7 DW_ROW7 DW_ROW7 DW_ROW7 DW_ROW7 DW_LAST7);
            }
#undef DW_WHOLE
            memcpy(out, &s0, 4);
        }
        const int8_t *base = q - 4 * blocks;
        if (step & 3) {
            dw_channels(l, base, 0, k, 0, k, 4 * blocks, out - 4 * blocks);
            out += step & 3;
        }
        q = base + l->pixel_stride;
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
    const int8_t *q_end; /* where q stops (the assembly sets it per block) */
    int32_t general; /* the layer's flags: requantised in C */
} dw_clip;

/* Row bodies of one tail: entries for 3..0 pairs after an optional lead. */
#define DW_STEP_H "ldr %[a], [%[q]]\n\t" "add %[q], %[q], %[c]\n\t" DW_HALF("t")
#define DW_STEP_P DW_LOAD_PAIR_ON DW_PAIR(DW_EXT_OFFSET)
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

/* After a clipped window's rows: w to the records, q to the next block's input; without
 * TE_DW_SIGNED or TE_DW_CLAMP (d->general 0) the requantisation too, the bytes packed in s0
 * and w left at the next block. */
#define DW_CLIPPED_END                 \
    "ldr %[t], %[rec]\n\t"             \
    "add %[w], %[w], %[t]\n\t"         \
    "ldr %[t], %[back]\n\t"            \
    "sub %[q], %[q], %[t]\n\t"         \
    "ldr %[t], %[general]\n\t"         \
    "cmp %[t], #0\n\t"                 \
    "bne .Ldw%=sums\n\t" DW_REQUANTIZE4 \
    ".Ldw%=sums:"

/* One block over a clipped window, with the input offset (see DW_CLIPPED_END); w from the
 * block's start, q from the window's first input pixel. */
DW_ALWAYS_INLINE dw_acc dw_clipped_sums(const int8_t **qp, const int32_t **wp, int32_t step, uint32_t off2,
                                        dw_clip *d)
{
    const int8_t *q = *qp;
    const int32_t *w = *wp;
    dw_acc s;
    uint32_t a, b, t, u, v;
    __asm__("ldrd %[s0], %[s1], [%[w], #16]\n\t"
            "ldrd %[s2], %[s3], [%[w], #24]\n\t"
            "ldr %[t], %[first]\n\t"
            "add %[w], %[w], %[t]\n\t"
            "ldr %[t], %[span]\n\t"
            "add %[t], %[q], %[t]\n\t"
            "str %[t], %[q_end]\n"
            ".Ldw%=row:\n\t"
            "ldr %[t], %[shape]\n\t"
            "tbh [pc, %[t], lsl #1]\n"
            ".Ldw%=tbl:\n\t" DW_ENTRIES("n") DW_ENTRIES("h") DW_ENTRIES("l")
            DW_BODIES("n", "")
            DW_BODIES("h", "ldr %[a], [%[q]]\n\t" DW_HALF("b"))
            DW_BODIES("l", "ldr %[a], [%[q]]\n\t" DW_LAST(DW_EXT_OFFSET))
            ".Ldw%=end:\n\t"
            "ldrd %[t], %[u], %[skip]\n\t"
            "add %[q], %[q], %[t]\n\t"
            "add %[w], %[w], %[u]\n\t"
            "ldr %[t], %[q_end]\n\t"
            "cmp %[q], %[t]\n\t"
            "bne .Ldw%=row\n\t" DW_CLIPPED_END
            : DW_SUMS, [q] "+r"(q), [w] "+r"(w), [q_end] "=m"(d->q_end), DW_TEMPS
            : [c] "r"(step), [o] "r"(off2), [shape] "m"(d->shape), [first] "m"(d->first), [skip] "m"(d->skip),
              [rec] "m"(d->to_records), [back] "m"(d->back), [span] "m"(d->span), [general] "m"(d->general)
            : "cc");
    *qp = q;
    *wp = w;
    return s;
}

/* The same for kernels of 3 columns and at most 3 rows, without a loop: each of the six column
 * ranges ([0, 3), [1, 3), [0, 2), [0, 1), [1, 2), [2, 3)) has its rows unrolled, entered at the
 * row that leaves kh of them, and its weights' skip to the next row folded into its last load.
 * d->shape: the range's index * 3 + 3 - kh; d->skip.q: the input's row stride. */
#define DW_ROW3_END "ldr %[t], %[qs]\n\t" "add %[q], %[q], %[t]\n\t"
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
    __asm__("ldrd %[s0], %[s1], [%[w], #16]\n\t"
            "ldrd %[s2], %[s3], [%[w], #24]\n\t"
            "ldr %[t], %[first]\n\t"
            "add %[w], %[w], %[t]\n\t"
            "ldr %[t], %[shape]\n\t"
            "tbh [pc, %[t], lsl #1]\n"
            ".Ldw%=tbl:\n\t" DW_ENTRIES3("0") DW_ENTRIES3("1") DW_ENTRIES3("2") DW_ENTRIES3("3") DW_ENTRIES3("4")
            DW_ENTRIES3("5")
            DW_RANGE3("0", DW_LOAD_PAIR DW_PAIR(DW_EXT_OFFSET) "ldr %[a], [%[q], %[c], lsl #1]\n\t"
                           DW_LAST(DW_EXT_OFFSET))
            DW_RANGE3("1", DW_LOAD_ONE DW_HALF("t") "ldr %[a], [%[q], %[c]]\n\t" DW_LAST(DW_EXT_OFFSET))
            DW_RANGE3("2", DW_LOAD_PAIR DW_PAIR_INC(DW_EXT_OFFSET, "16"))
            DW_RANGE3("3", DW_LOAD_ONE DW_HALF_INC("b", "16"))
            DW_RANGE3("4", DW_LOAD_ONE DW_HALF_INC("t", "16"))
            DW_RANGE3("5", DW_LOAD_ONE DW_LAST_INC(DW_EXT_OFFSET, "24"))
            ".Ldw%=end:\n\t" DW_CLIPPED_END
            : DW_SUMS, [q] "+r"(q), [w] "+r"(w), DW_TEMPS
            : [c] "r"(step), [o] "r"(off2), [shape] "m"(d->shape), [first] "m"(d->first), [qs] "m"(d->skip.q),
              [rec] "m"(d->to_records), [back] "m"(d->back), [general] "m"(d->general)
            : "cc");
    *qp = q;
    *wp = w;
    return s;
}

/* dw_requantize of the four sums (no TE_DW_SIGNED) from the records at *w (left after them),
 * saturated and packed. */
DW_ALWAYS_INLINE uint32_t dw_requantize4(dw_acc s, const int32_t **wp)
{
    const int32_t *w = *wp;
    uint32_t a, b, t, u;
    __asm__(DW_REQUANTIZE4
            : [s0] "+r"(s.a0), [s1] "+r"(s.a1), [s2] "+r"(s.a2), [s3] "+r"(s.a3), [w] "+r"(w), [a] "=&r"(a),
              [b] "=&r"(b), [t] "=&r"(t), [u] "=&r"(u));
    *wp = w;
    return s.a0;
}

/* The same with the layer's flags: signed rounding or te_requantize, clamped to [act_min,
 * act_max]. Out of line, the sums as arguments: the common path keeps them in registers. */
DW_NOINLINE uint32_t dw_requantize4_general(int32_t a0, int32_t a1, int32_t a2, int32_t a3, const dw_layer *l,
                                            const int32_t *r)
{
    const int32_t sr = l->flags, rw = l->rec_words;
    uint32_t packed = (uint8_t)__ssat(dw_requantize(a0, r, sr), 8) |
                      (uint32_t)(uint8_t)__ssat(dw_requantize(a1, r + rw, sr), 8) << 8 |
                      (uint32_t)(uint8_t)__ssat(dw_requantize(a2, r + 2 * rw, sr), 8) << 16 |
                      (uint32_t)(uint8_t)__ssat(dw_requantize(a3, r + 3 * rw, sr), 8) << 24;
    /* Four bytes clamped together: SSUB8 sets the GE flags SEL reads. */
    const uint32_t lo = ((uint32_t)l->act_min & 0xffu) * 0x01010101u;
    const uint32_t hi = ((uint32_t)l->act_max & 0xffu) * 0x01010101u;
    (void)__ssub8(packed, lo);
    packed = __sel(packed, lo);
    (void)__ssub8(hi, packed);
    return __sel(packed, hi);
}

/* A clipped block's four output bytes: packed in s.a0 already (w at the next block) unless the
 * layer has flags (w at the records). */
DW_ALWAYS_INLINE void dw_store(const dw_layer *l, dw_acc s, const int32_t **w, int8_t *out)
{
    uint32_t packed = s.a0;
    if (l->flags) {
        packed = dw_requantize4_general((int32_t)s.a0, (int32_t)s.a1, (int32_t)s.a2, (int32_t)s.a3, l, *w);
        *w += 4 * l->rec_words;
    }
    memcpy(out, &packed, 4);
}

/* Every block of a pixel whose window is kernel rows [ky0, ky0 + kh) and columns [kx0, kx1)
 * (q: the window's first input pixel; none if either range is empty). */
static void dw_clipped(const dw_layer *l, const int8_t *q, int8_t *out, int32_t ky0, int32_t kh, int32_t kx0,
                       int32_t kx1)
{
    const int32_t step = l->channels, row_bytes = 4 * l->row_words;
    int32_t c = 0;
    if (kh == 0 || kx1 <= kx0) {
        /* A window entirely in the padding (patch-based tiles): the biases alone. */
        for (const int32_t *b = l->blocks; c + 4 <= step; c += 4, b += l->block_words) {
            const int32_t *w = b + l->block_words - 4 * l->rec_words;
            const dw_acc s = {(uint32_t)b[4], (uint32_t)b[5], (uint32_t)b[6], (uint32_t)b[7]};
            const uint32_t packed = l->flags ? dw_requantize4_general(b[4], b[5], b[6], b[7], l, w)
                                             : dw_requantize4(s, &w);
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
    const int32_t first = 4 * (DW_BIAS_WORDS + ky0 * l->row_words + (kx0 >> 1) * 4);
    const int32_t w_step = 4 * (4 * (lead + pairs + (tail == 1)) + 2 * last); /* weights a row's steps read */
    /* Kernels of 3 columns and at most 3 rows: the unrolled form (see dw_clipped3_sums). */
    static const uint8_t range3[3][4] = {{0, 3, 2, 0}, {0, 0, 4, 1}, {0, 0, 0, 5}}; /* [kx0][kx1] */
    const int32_t three = l->k_w == 3 && l->k_h <= 3;
    dw_clip d = {
        .shape = three ? range3[kx0][kx1] * 3 + 3 - kh : tail * 8 + lead * 4 + pairs,
        .first = first,
        .skip = {three ? l->row_stride : l->row_stride - (lead + 2 * pairs) * step, row_bytes - w_step},
        .to_records = 4 * (l->block_words - 4 * l->rec_words) - first - kh * row_bytes,
        .back = kh * l->row_stride - 4,
        .span = kh * l->row_stride,
        .general = l->flags,
    };
    const int32_t *w = l->blocks;
    const int8_t *x = q;
    /* SMLAD wraps like TFLite's int32 arithmetic: the bias may start the sums. */
    if (three) {
        for (; c + 4 <= step; c += 4) {
            dw_store(l, dw_clipped3_sums(&x, &w, step, l->off2, &d), &w, out + c);
        }
    } else {
        for (; c + 4 <= step; c += 4) {
            dw_store(l, dw_clipped_sums(&x, &w, step, l->off2, &d), &w, out + c);
        }
    }
    if (c < step) {
        dw_channels(l, q, ky0, kh, kx0, kx1, c, out);
    }
}
#endif

/* The taps of a window starting at input coordinate `start` that fall inside [0, size):
 * from *first on, as many as returned (0 if none). */
static inline int32_t clip(int32_t start, int32_t k, int32_t size, int32_t *first)
{
    const int32_t lo = start < 0 ? -start : 0;
    const int32_t hi = size - start < k ? size - start : k;
    *first = lo;
    return hi > lo ? hi - lo : 0;
}

te_status te_depthwise_conv_s8_fast(const te_dw_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->blocks == NULL || p->k_w > 7) {
        return TE_ERROR_ARGUMENT;
    }
    const int32_t rec_words = (p->flags & (TE_DW_SIGNED | TE_DW_EXACT)) == TE_DW_SIGNED ? DW_REC_WORDS_SIGNED
                                                                                       : DW_REC_WORDS;
    const int32_t row_words = 4 * (p->k_w >> 1) + 2 * (p->k_w & 1);
    const dw_layer l = {
        .channels = p->channels, .k_w = p->k_w, .row_stride = p->in_w * p->channels, .row_words = row_words,
        .block_words = DW_BIAS_WORDS + p->k_h * row_words + 4 * rec_words, .rec_words = rec_words,
        .input_offset = p->input_offset, .act_min = p->act_min, .act_max = p->act_max, .flags = p->flags,
        .blocks = p->blocks,
#if DW_DSP
        .k_h = p->k_h, .pixel_stride = p->stride_w * p->channels,
        .off2 = ((uint32_t)p->input_offset & 0xffffu) * 0x10001u,
#endif
    };
    const int32_t k_h = p->k_h, k_w = p->k_w, in_h = p->in_h, in_w = p->in_w, channels = p->channels;
    const int32_t stride_w = p->stride_w;
#if DW_DSP
    /* Whole windows of these sizes run unrolled, with the input offset in the bias. */
    const int32_t unrolled = k_h == k_w && (k_h == 3 || k_h == 5 || k_h == 7) && p->flags == 0;
#endif
    int8_t *out = output;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * in_h * in_w * channels;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            int32_t ky0;
            const int32_t kh = clip(oy * p->stride_h - p->pad_top, k_h, in_h, &ky0);
            /* The window's first row (kept inside the input: none for a window in the padding). */
            const int32_t iy = kh > 0 ? oy * p->stride_h - p->pad_top + ky0 : 0;
            const int8_t *in_row = in_b + (size_t)iy * in_w * channels;
            for (int32_t ox = 0; ox < p->out_w;) {
                int32_t kx0;
                const int32_t x0 = ox * stride_w - p->pad_left;
                const int32_t kw = clip(x0, k_w, in_w, &kx0);
                /* A window entirely in the padding (patch-based tiles) reads nothing. */
                const int8_t *q = kh > 0 && kw > 0 ? in_row + (size_t)(x0 + kx0) * channels : in_b;
#if DW_DSP
                if (unrolled && kh == k_h && kw == k_w) {
                    /* The run of whole windows from here: x0 + (n - 1) * stride_w + k_w <= in_w. */
                    int32_t n = (in_w - k_w - x0) / stride_w + 1;
                    n = n < p->out_w - ox ? n : p->out_w - ox;
                    if (k_h == 3) {
                        dw_whole(&l, q, out, n, 3);
                    } else if (k_h == 5) {
                        dw_whole(&l, q, out, n, 5);
                    } else {
                        dw_whole(&l, q, out, n, 7);
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
