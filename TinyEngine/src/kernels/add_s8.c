/* ADD, int8, with broadcasting: tflite::reference_integer_ops::Add (both inputs rescaled to a
 * common scale with 20 bits of headroom, summed, then requantised).
 *
 * The general case walks rows of the innermost dimension, each input with its own stride (1,
 * or 0 where it broadcasts), the outer dimensions by te_ndindex, the three requantisations
 * prepared once (te_requant_prepare: the same values as te_requantize, see te_fixedpoint.h).
 *
 * The common case has its own loops: contiguous inputs of one merged dimension, left shift 20,
 * the input of the larger scale (a) rescaled by exactly 1/2 (multiplier 2^30, shift 0:
 * (x + offset) << 20 halved, no rounding), the other (b) halved too (equal scales) or, as the
 * output, by a multiplier in [2^30, 2^31) and a right shift in [1, 23] (add_rescale). Where
 * the generator gives a scratch (te_add_s8_get_buffer_size), b's 256 possible rescaled terms,
 * a's offset term folded in, are tabulated once per call: each element is then two byte
 * loads, a table load, an add, the output's rescale and a saturation. */
#include "te_add_s8_mve.h"
#include "te_fixedpoint.h"
#include "te_ndindex.h"
#include "tinyengine.h"

#if TE_USE_DSP
#include <arm_acle.h>
#endif

#if defined(__GNUC__)
#define ADD_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define ADD_ALWAYS_INLINE static inline
#endif

#define ADD_LEFT_SHIFT 20
/* Building the table takes about 2,200 instructions and saves about 8 an element on the
 * simulated M7 (9.5 an element with it, 18 without): from this many elements on, it pays
 * (lowering/elementwise.py ADD_TABLE_MIN_ELEMENTS). */
#define ADD_TABLE_MIN_ELEMENTS 320
#define ADD_TABLE_ENTRIES 256

/* TFLite's MultiplyByQuantizedMultiplierSmallerThanOneExp(x, multiplier, -right) + offset for
 * a multiplier in [2^30, 2^31), right in [1, 23], x2 = 2 x with |x2| < 2^30, start =
 * 2^(right-1) + offset 2^right, |offset| <= 255, the result within int32.
 * gemmlowp's doubling high multiply h = floor((x m + 2^30) / 2^31) (te_fixedpoint.h) equals
 * floor((x2 m + 2^31) / 2^32): one SMMLAR, which adds start in the high word. The rounding
 * right shift (half away from zero) is floor((h + 2^(right-1) - [h < 0]) / 2^right), the
 * offset passing through the floor as a multiple of 2^right; h < 0 exactly where x < 0 but at
 * x = -1, m = 2^30 (h = 0), where [x < 0] gives the same 0 for right >= 1. */
ADD_ALWAYS_INLINE int32_t add_rescale(int32_t x2, int32_t multiplier, int32_t start, int32_t right)
{
    const int32_t acc = te_smmlar(x2, multiplier, start);
    return (int32_t)((uint32_t)acc - ((uint32_t)x2 >> 31)) >> right;
}

/* v saturated to int8: one SSAT on the DSP path. */
ADD_ALWAYS_INLINE int32_t add_saturate(int32_t v)
{
#if TE_USE_DSP
    return __ssat(v, 8);
#else
    return te_clamp(v, -128, 127);
#endif
}

typedef struct {
    int32_t off_a, off_b;
    int32_t mult_b, start_b, right_b; /* b's rescale; mult_b 0 where b is halved too */
    int32_t mult_o, start_o, right_o; /* the output's, its offset in start_o */
    int32_t act_min, act_max;
} add_fast;

enum { ADD_HALVES, ADD_RESCALE, ADD_TABLE };

/* Twice b's rescaled term. */
ADD_ALWAYS_INLINE int32_t add_term_b(const add_fast *f, int32_t b)
{
    const int32_t x2 = (int32_t)((uint32_t)(b + f->off_b) << (ADD_LEFT_SHIFT + 1));
    return (int32_t)((uint32_t)add_rescale(x2, f->mult_b, f->start_b, f->right_b) << 1);
}

#if TE_USE_DSP
/* add_fast_loop's table mode without clamp, 4 elements a step (n a multiple of 4), in two
 * pairs: each pair's inputs are read before its outputs are written. */
static void add_table_quads(const int8_t *a, const int8_t *b, int8_t *out, int32_t n, const int32_t *table,
                            int32_t multiplier, int32_t start, int32_t right)
{
    int32_t a0, a1, b0, b1;
#define ADD_PAIR                                                                                    \
    "ldrsb %[b0], [%[b]], #2\n\t"                                                                    \
    "ldrsb %[b1], [%[b], #-1]\n\t"                                                                   \
    "ldrsb %[a0], [%[a]], #2\n\t"                                                                    \
    "ldrsb %[a1], [%[a], #-1]\n\t"                                                                   \
    "ldr %[b0], [%[t], %[b0], lsl #2]\n\t"                                                           \
    "ldr %[b1], [%[t], %[b1], lsl #2]\n\t"                                                           \
    "add %[b0], %[b0], %[a0], lsl #20\n\t"                                                           \
    "add %[b1], %[b1], %[a1], lsl #20\n\t"                                                           \
    "smmlar %[a0], %[b0], %[m], %[s]\n\t"                                                            \
    "smmlar %[a1], %[b1], %[m], %[s]\n\t"                                                            \
    "add %[a0], %[a0], %[b0], asr #31\n\t"                                                           \
    "add %[a1], %[a1], %[b1], asr #31\n\t"                                                           \
    "asr %[a0], %[a0], %[r]\n\t"                                                                     \
    "asr %[a1], %[a1], %[r]\n\t"                                                                     \
    "ssat %[a0], #8, %[a0]\n\t"                                                                      \
    "ssat %[a1], #8, %[a1]\n\t"                                                                      \
    "strb %[a0], [%[o]], #2\n\t"                                                                     \
    "strb %[a1], [%[o], #-1]\n\t"
    __asm__ volatile("1:\n\t" ADD_PAIR ADD_PAIR
                     "subs %[n], %[n], #4\n\t"
                     "bne 1b"
                     : [a0] "=&r"(a0), [a1] "=&r"(a1), [b0] "=&r"(b0), [b1] "=&r"(b1), [a] "+r"(a), [b] "+r"(b),
                       [o] "+r"(out), [n] "+r"(n)
                     : [t] "r"(table), [m] "r"(multiplier), [s] "r"(start), [r] "r"(right)
                     : "cc", "memory");
#undef ADD_PAIR
}
#endif

/* n outputs; `clamp`: [act_min, act_max] narrower than int8. Element i is read before it is
 * written, so an output over its input (memory/overlap.py elementwise_gap) stays safe. */
ADD_ALWAYS_INLINE void add_fast_loop(const add_fast *f, const int8_t *a, const int8_t *b, int8_t *out, int32_t n,
                                     const int32_t *table, int mode, int clamp)
{
    const int32_t off_ab = f->off_a + f->off_b;
    for (int32_t i = 0; i < n; i++) {
        /* Twice the sum of the rescaled inputs, the x2 of the output's add_rescale: each term
         * is below 2^28 (inputs rescaled by 1/2 at most), the sum below 2^29. */
        int32_t sum2;
        if (mode == ADD_TABLE) {
            sum2 = table[b[i]] + (int32_t)((uint32_t)a[i] << ADD_LEFT_SHIFT);
        } else if (mode == ADD_HALVES) {
            sum2 = (int32_t)((uint32_t)(a[i] + b[i] + off_ab) << ADD_LEFT_SHIFT);
        } else {
            sum2 = (int32_t)((uint32_t)(a[i] + f->off_a) << ADD_LEFT_SHIFT) + add_term_b(f, b[i]);
        }
        const int32_t v = add_rescale(sum2, f->mult_o, f->start_o, f->right_o);
        out[i] = (int8_t)(clamp ? te_clamp(v, f->act_min, f->act_max) : add_saturate(v));
    }
}

static int add_is_half(int32_t multiplier, int32_t shift)
{
    return multiplier == (1 << 30) && shift == 0;
}

static int add_rescales(int32_t multiplier, int32_t shift)
{
    return multiplier >= (1 << 30) && shift <= -1 && shift >= -23;
}

/* The input (1 or 2) the common case halves as a, 0 where its loops do not apply. */
static int add_fast_input(const te_binary_params *p)
{
    if (p->ndim != 1 || p->stride1[0] != 1 || p->stride2[0] != 1 || p->left_shift != ADD_LEFT_SHIFT ||
        !add_rescales(p->output_multiplier, p->output_shift)) {
        return 0;
    }
    const int half2 = add_is_half(p->input2_multiplier, p->input2_shift);
    if (add_is_half(p->input1_multiplier, p->input1_shift) &&
        (half2 || add_rescales(p->input2_multiplier, p->input2_shift))) {
        return 1;
    }
    return half2 && add_rescales(p->input1_multiplier, p->input1_shift) ? 2 : 0;
}

int32_t te_add_s8_get_buffer_size(const te_binary_params *p)
{
    const int first = add_fast_input(p);
    const int b_halved = first == 1 ? add_is_half(p->input2_multiplier, p->input2_shift) : 0;
    return first != 0 && !b_halved && p->shape[0] >= ADD_TABLE_MIN_ELEMENTS
               ? ADD_TABLE_ENTRIES * (int32_t)sizeof(int32_t) : 0;
}

static void add_fast_run(const te_binary_params *p, int first, const int8_t *input1, const int8_t *input2,
                         int8_t *output, void *scratch)
{
    const int8_t *a = first == 1 ? input1 : input2, *b = first == 1 ? input2 : input1;
    const int32_t mult_b = first == 1 ? p->input2_multiplier : p->input1_multiplier;
    const int32_t shift_b = first == 1 ? p->input2_shift : p->input1_shift;
    add_fast f;
    f.off_a = first == 1 ? p->input1_offset : p->input2_offset;
    f.off_b = first == 1 ? p->input2_offset : p->input1_offset;
    f.mult_b = add_is_half(mult_b, shift_b) ? 0 : mult_b;
    f.right_b = -shift_b;
    f.start_b = f.right_b > 0 ? 1 << (f.right_b - 1) : 0;
    f.mult_o = p->output_multiplier;
    f.right_o = -p->output_shift;
    f.start_o = (int32_t)((1u << (f.right_o - 1)) + ((uint32_t)p->output_offset << f.right_o));
    f.act_min = p->act_min;
    f.act_max = p->act_max;
    const int32_t n = p->shape[0];
    const int clamp = p->act_min > -128 || p->act_max < 127;
    if (f.mult_b == 0) {
        if (clamp) {
            add_fast_loop(&f, a, b, output, n, NULL, ADD_HALVES, 1);
        } else {
            add_fast_loop(&f, a, b, output, n, NULL, ADD_HALVES, 0);
        }
        return;
    }
    if (scratch == NULL) {
        if (clamp) {
            add_fast_loop(&f, a, b, output, n, NULL, ADD_RESCALE, 1);
        } else {
            add_fast_loop(&f, a, b, output, n, NULL, ADD_RESCALE, 0);
        }
        return;
    }
    /* Indexed by b from its middle: entry b for b in [-128, 127]. */
    int32_t *table = (int32_t *)scratch + ADD_TABLE_ENTRIES / 2;
    const int32_t term_a = (int32_t)((uint32_t)f.off_a << ADD_LEFT_SHIFT);
    for (int32_t v = -ADD_TABLE_ENTRIES / 2; v < ADD_TABLE_ENTRIES / 2; v++) {
        table[v] = add_term_b(&f, v) + term_a;
    }
    if (clamp) {
        add_fast_loop(&f, a, b, output, n, table, ADD_TABLE, 1);
        return;
    }
#if TE_USE_DSP
    const int32_t quads = n & ~3;
    if (quads > 0) {
        add_table_quads(a, b, output, quads, table, f.mult_o, f.start_o, f.right_o);
    }
    add_fast_loop(&f, a + quads, b + quads, output + quads, n - quads, table, ADD_TABLE, 0);
#else
    add_fast_loop(&f, a, b, output, n, table, ADD_TABLE, 0);
#endif
}

te_status te_add_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output,
                    void *scratch)
{
    if (p == NULL || input1 == NULL || input2 == NULL || output == NULL || p->ndim < 1 || p->ndim > TE_MAX_DIMS) {
        return TE_ERROR_ARGUMENT;
    }
#if TE_USE_MVE
    (void)scratch;
    return te_add_s8_mve(p, input1, input2, output);
#endif
    const int first = add_fast_input(p);
    if (first != 0) {
        add_fast_run(p, first, input1, input2, output, scratch);
        return TE_OK;
    }
    const te_requant_channel q1 = te_requant_prepare(p->input1_multiplier, p->input1_shift, 0);
    const te_requant_channel q2 = te_requant_prepare(p->input2_multiplier, p->input2_shift, 0);
    const te_requant_channel qo = te_requant_prepare(p->output_multiplier, p->output_shift, p->output_offset);
    const int32_t off1 = p->input1_offset, off2 = p->input2_offset, left = p->left_shift;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    const int32_t inner = p->ndim - 1, n = p->shape[inner];
    const int32_t step1 = p->stride1[inner], step2 = p->stride2[inner];
    const size_t rows = te_shape_size(inner, p->shape);
    te_ndindex it;
    te_ndindex_init(&it, inner, p->shape, p->stride1, p->stride2);
    for (size_t r = 0; r < rows; r++) {
        const int8_t *a = input1 + it.offset1, *b = input2 + it.offset2;
        for (int32_t i = 0; i < n; i++, a += step1, b += step2) {
            const int32_t sa = te_requant_apply(&q1, (int32_t)((uint32_t)(*a + off1) << left));
            const int32_t sb = te_requant_apply(&q2, (int32_t)((uint32_t)(*b + off2) << left));
            *output++ = (int8_t)te_clamp(te_requant_apply(&qo, sa + sb), act_min, act_max);
        }
        te_ndindex_next(&it);
    }
    return TE_OK;
}
