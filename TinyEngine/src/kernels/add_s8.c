/* ADD, int8, with broadcasting: tflite::reference_integer_ops::Add (both inputs rescaled to a
 * common scale with 20 bits of headroom, summed, then requantised).
 *
 * Rows of the innermost dimension at a time, each input walking it with its own stride (1,
 * or 0 where it broadcasts), the outer dimensions by te_ndindex; the three requantisations
 * prepared once (te_requant_prepare: the same values as te_requantize, see te_fixedpoint.h).
 *
 * The common case has its own loop. TFLite rescales the input of the larger scale by exactly
 * 1/2 (multiplier 2^30, shift 0: (x + offset) << 20 halved, no rounding), the other by a right
 * shift in te_requant_fast's range, and the output too: then each element is one shift, two
 * single-SMLAL requantisations and a clamp, with no test of the shift per element. */
#include "te_add_s8_mve.h"
#include "te_fixedpoint.h"
#include "te_ndindex.h"
#include "tinyengine.h"

#if defined(__GNUC__)
#define ADD_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define ADD_ALWAYS_INLINE static inline
#endif

/* The rows of the common case: `a` is the input rescaled by 1/2; `b` too (half_b, equal
 * scales) or by te_requant_fast. */
ADD_ALWAYS_INLINE void add_rows_fast(const te_binary_params *p, const int8_t *a, int32_t off_a, const int32_t *stride_a,
                                     const int8_t *b, int32_t off_b, const int32_t *stride_b,
                                     const te_requant_channel *qb, const te_requant_channel *qo, int8_t *output,
                                     int half_b)
{
    const int32_t inner = p->ndim - 1, n = p->shape[inner], left = p->left_shift;
    const int32_t step_a = stride_a[inner], step_b = stride_b[inner], act_min = p->act_min, act_max = p->act_max;
    const size_t rows = te_shape_size(inner, p->shape);
    te_ndindex it;
    te_ndindex_init(&it, inner, p->shape, stride_a, stride_b);
    for (size_t r = 0; r < rows; r++) {
        const int8_t *x = a + it.offset1, *y = b + it.offset2;
        for (int32_t i = 0; i < n; i++, x += step_a, y += step_b) {
            const int32_t sa = (int32_t)((uint32_t)(*x + off_a) << (left - 1));
            const int32_t sb = half_b ? (int32_t)((uint32_t)(*y + off_b) << (left - 1))
                                      : te_requant_fast((int32_t)((uint32_t)(*y + off_b) << left), qb->multiplier,
                                                        qb->start_lo, qb->start_hi, qb->right);
            const int32_t v = te_requant_fast(sa + sb, qo->multiplier, qo->start_lo, qo->start_hi, qo->right);
            *output++ = (int8_t)te_clamp(v, act_min, act_max);
        }
        te_ndindex_next(&it);
    }
}

static int add_is_half(int32_t multiplier, int32_t shift)
{
    return multiplier == (1 << 30) && shift == 0;
}

static int add_is_fast(const te_requant_channel *q)
{
    return (uint32_t)q->right <= TE_REQUANT_FOLD_MAX_RIGHT;
}

te_status te_add_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (p == NULL || input1 == NULL || input2 == NULL || output == NULL || p->ndim < 1 || p->ndim > TE_MAX_DIMS) {
        return TE_ERROR_ARGUMENT;
    }
#if TE_USE_MVE
    return te_add_s8_mve(p, input1, input2, output);
#endif
    const te_requant_channel q1 = te_requant_prepare(p->input1_multiplier, p->input1_shift, 0);
    const te_requant_channel q2 = te_requant_prepare(p->input2_multiplier, p->input2_shift, 0);
    const te_requant_channel qo = te_requant_prepare(p->output_multiplier, p->output_shift, p->output_offset);
    const int32_t off1 = p->input1_offset, off2 = p->input2_offset, left = p->left_shift;
    if (left >= 1 && add_is_fast(&qo)) {
        /* The sum is symmetric: whichever input is halved walks as `a`. */
        const int half1 = add_is_half(p->input1_multiplier, p->input1_shift);
        const int half2 = add_is_half(p->input2_multiplier, p->input2_shift);
        if (half1 && half2) {
            add_rows_fast(p, input1, off1, p->stride1, input2, off2, p->stride2, &q2, &qo, output, 1);
            return TE_OK;
        }
        if (half1 && add_is_fast(&q2)) {
            add_rows_fast(p, input1, off1, p->stride1, input2, off2, p->stride2, &q2, &qo, output, 0);
            return TE_OK;
        }
        if (half2 && add_is_fast(&q1)) {
            add_rows_fast(p, input2, off2, p->stride2, input1, off1, p->stride1, &q1, &qo, output, 0);
            return TE_OK;
        }
    }
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
