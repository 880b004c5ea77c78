/* ADD, int8, with broadcasting: tflite::reference_integer_ops::Add (both inputs rescaled to a
 * common scale with 20 bits of headroom, summed, then requantised).
 *
 * Rows of the innermost dimension at a time, each input walking it with its own stride (1,
 * or 0 where it broadcasts), the outer dimensions by te_ndindex; the three requantisations
 * prepared once (te_requant_prepare: the same values as te_requantize, see te_fixedpoint.h). */
#include "te_add_s8_mve.h"
#include "te_fixedpoint.h"
#include "te_ndindex.h"
#include "tinyengine.h"

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
