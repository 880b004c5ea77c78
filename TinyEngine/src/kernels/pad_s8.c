/* PAD / PADV2, int8: fill with the pad value, then copy the input rows into place. */
#include <string.h>

#include "te_ndindex.h"
#include "tinyengine.h"

te_status te_pad_s8(const te_pad_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->ndim < 1 || p->ndim > TE_MAX_DIMS) {
        return TE_ERROR_ARGUMENT;
    }
    memset(output, (int8_t)p->pad_value, te_shape_size(p->ndim, p->out_shape));
    /* Output strides, and the output offset of the input's first element. */
    int32_t out_stride[TE_MAX_DIMS];
    int32_t s = 1;
    size_t base = 0;
    for (int32_t d = p->ndim - 1; d >= 0; d--) {
        out_stride[d] = s;
        base += (size_t)p->before[d] * (size_t)s;
        s *= p->out_shape[d];
    }
    const int32_t row = p->in_shape[p->ndim - 1];
    const size_t rows = te_shape_size(p->ndim - 1, p->in_shape);
    if (row == 0) {
        return TE_OK;
    }
    te_ndindex it;
    te_ndindex_init(&it, p->ndim - 1, p->in_shape, out_stride, NULL);
    for (size_t r = 0; r < rows; r++) {
        memcpy(output + base + it.offset1, input + r * (size_t)row, (size_t)row);
        te_ndindex_next(&it);
    }
    return TE_OK;
}
