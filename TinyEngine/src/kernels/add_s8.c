/* ADD, int8, with broadcasting: tflite::reference_integer_ops::Add (both inputs rescaled to a
 * common scale with 20 bits of headroom, summed, then requantised). */
#include "te_fixedpoint.h"
#include "te_ndindex.h"
#include "tinyengine.h"

te_status te_add_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (p == NULL || input1 == NULL || input2 == NULL || output == NULL || p->ndim > TE_MAX_DIMS) {
        return TE_ERROR_ARGUMENT;
    }
    const size_t total = te_shape_size(p->ndim, p->shape);
    te_ndindex it;
    te_ndindex_init(&it, p->ndim, p->shape, p->stride1, p->stride2);
    for (size_t n = 0; n < total; n++) {
        const int32_t a = ((int32_t)input1[it.offset1] + p->input1_offset) * (1 << p->left_shift);
        const int32_t b = ((int32_t)input2[it.offset2] + p->input2_offset) * (1 << p->left_shift);
        const int32_t sa = te_requantize(a, p->input1_multiplier, p->input1_shift);
        const int32_t sb = te_requantize(b, p->input2_multiplier, p->input2_shift);
        const int32_t sum = te_requantize(sa + sb, p->output_multiplier, p->output_shift) + p->output_offset;
        output[n] = (int8_t)te_clamp(sum, p->act_min, p->act_max);
        te_ndindex_next(&it);
    }
    return TE_OK;
}
