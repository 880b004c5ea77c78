/* PRELU, int8, with a constant alpha broadcast over the input: tflite::reference_ops::
 * BroadcastPrelu4DSlow. Non-negative inputs are requantised, negative ones multiplied by their
 * alpha first. (An alpha that is the same everywhere goes through te_lut_s8 instead.) */
#include "te_fixedpoint.h"
#include "te_ndindex.h"
#include "tinyengine.h"

te_status te_prelu_s8(const te_prelu_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || p->alpha == NULL || input == NULL || output == NULL || p->ndim > TE_MAX_DIMS) {
        return TE_ERROR_ARGUMENT;
    }
    const size_t total = te_shape_size(p->ndim, p->shape);
    te_ndindex it;
    te_ndindex_init(&it, p->ndim, p->shape, p->alpha_stride, NULL);
    for (size_t n = 0; n < total; n++) {
        const int32_t x = (int32_t)input[n] + p->input_offset;
        int32_t value;
        if (x >= 0) {
            value = te_requantize(x, p->identity_multiplier, p->identity_shift);
        } else {
            const int32_t alpha = (int32_t)p->alpha[it.offset1] + p->alpha_offset;
            value = te_requantize(x * alpha, p->alpha_multiplier, p->alpha_shift);
        }
        output[n] = (int8_t)te_clamp(value + p->output_offset, INT8_MIN, INT8_MAX);
        te_ndindex_next(&it);
    }
    return TE_OK;
}
