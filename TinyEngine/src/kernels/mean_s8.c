/* MEAN and SUM, int8: tflite::reference_ops::QuantizedMeanOrSum (integer; for MEAN the
 * division by the element count folded into the multiplier by the generator). */
#include "te_fixedpoint.h"
#include "te_ndindex.h"
#include "tinyengine.h"

te_status te_mean_s8(const te_mean_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count <= 0 || p->ndim > TE_MAX_DIMS) {
        return TE_ERROR_ARGUMENT;
    }
    const size_t outputs = te_shape_size(p->ndim, p->shape) / (size_t)p->count;
    const int32_t zero_sum = p->input_zero_point * p->count;
    te_ndindex it;
    te_ndindex_init(&it, p->ndim, p->shape, p->in_stride, NULL);
    for (size_t o = 0; o < outputs; o++) {
        int32_t sum = 0;
        for (int32_t k = 0; k < p->count; k++) {
            sum += input[it.offset1];
            te_ndindex_next(&it);
        }
        const int32_t v = te_requantize(sum - zero_sum, p->multiplier, p->shift) + p->output_zero_point;
        output[o] = (int8_t)te_clamp(v, -128, 127);
    }
    return TE_OK;
}
