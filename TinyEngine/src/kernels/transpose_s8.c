/* TRANSPOSE, int8: a gather whose input strides the generator permuted. */
#include "te_ndindex.h"
#include "tinyengine.h"

te_status te_transpose_s8(const te_transpose_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->ndim > TE_MAX_DIMS) {
        return TE_ERROR_ARGUMENT;
    }
    const size_t total = te_shape_size(p->ndim, p->shape);
    te_ndindex it;
    te_ndindex_init(&it, p->ndim, p->shape, p->in_stride, NULL);
    for (size_t n = 0; n < total; n++) {
        output[n] = input[it.offset1];
        te_ndindex_next(&it);
    }
    return TE_OK;
}
