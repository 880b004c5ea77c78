/* MAXIMUM and MINIMUM, int8, with broadcasting: tflite::reference_ops::MaximumMinimumBroadcastSlow
 * on the raw values, which the shared quantisation orders as the real ones. */
#include "te_ndindex.h"
#include "tinyengine.h"

static te_status select_s8(const te_minmax_params *p, const int8_t *input1, const int8_t *input2, int8_t *output,
                           int take_max)
{
    if (p == NULL || input1 == NULL || input2 == NULL || output == NULL || p->ndim > TE_MAX_DIMS) {
        return TE_ERROR_ARGUMENT;
    }
    const size_t total = te_shape_size(p->ndim, p->shape);
    te_ndindex it;
    te_ndindex_init(&it, p->ndim, p->shape, p->stride1, p->stride2);
    for (size_t n = 0; n < total; n++) {
        const int8_t a = input1[it.offset1];
        const int8_t b = input2[it.offset2];
        output[n] = take_max ? (a > b ? a : b) : (a < b ? a : b);
        te_ndindex_next(&it);
    }
    return TE_OK;
}

te_status te_maximum_s8(const te_minmax_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    return select_s8(p, input1, input2, output, 1);
}

te_status te_minimum_s8(const te_minmax_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    return select_s8(p, input1, input2, output, 0);
}
