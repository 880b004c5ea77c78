/* MUL, int8, with broadcasting: tflite::reference_integer_ops::Mul. */
#include "te_fixedpoint.h"
#include "te_ndindex.h"
#include "tinyengine.h"

te_status te_mul_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (p == NULL || input1 == NULL || input2 == NULL || output == NULL || p->ndim > TE_MAX_DIMS) {
        return TE_ERROR_ARGUMENT;
    }
    const size_t total = te_shape_size(p->ndim, p->shape);
    te_ndindex it;
    te_ndindex_init(&it, p->ndim, p->shape, p->stride1, p->stride2);
    for (size_t n = 0; n < total; n++) {
        const int32_t a = (int32_t)input1[it.offset1] + p->input1_offset;
        const int32_t b = (int32_t)input2[it.offset2] + p->input2_offset;
        const int32_t v = te_requantize(a * b, p->output_multiplier, p->output_shift) + p->output_offset;
        output[n] = (int8_t)te_clamp(v, p->act_min, p->act_max);
        te_ndindex_next(&it);
    }
    return TE_OK;
}
