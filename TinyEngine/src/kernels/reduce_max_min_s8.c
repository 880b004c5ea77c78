/* REDUCE_MAX and REDUCE_MIN, int8: tflite::reference_ops::ReduceGeneric on the raw values
 * (TFLite requires the input's quantisation on the output). */
#include "te_ndindex.h"
#include "tinyengine.h"

static te_status reduce_s8(const te_reduce_params *p, const int8_t *input, int8_t *output, int take_max)
{
    if (p == NULL || input == NULL || output == NULL || p->count <= 0 || p->ndim > TE_MAX_DIMS) {
        return TE_ERROR_ARGUMENT;
    }
    const size_t outputs = te_shape_size(p->ndim, p->shape) / (size_t)p->count;
    te_ndindex it;
    te_ndindex_init(&it, p->ndim, p->shape, p->in_stride, NULL);
    for (size_t o = 0; o < outputs; o++) {
        int8_t best = input[it.offset1];
        te_ndindex_next(&it);
        for (int32_t k = 1; k < p->count; k++) {
            const int8_t v = input[it.offset1];
            if (take_max ? v > best : v < best) {
                best = v;
            }
            te_ndindex_next(&it);
        }
        output[o] = best;
    }
    return TE_OK;
}

te_status te_reduce_max_s8(const te_reduce_params *p, const int8_t *input, int8_t *output)
{
    return reduce_s8(p, input, output, 1);
}

te_status te_reduce_min_s8(const te_reduce_params *p, const int8_t *input, int8_t *output)
{
    return reduce_s8(p, input, output, 0);
}
