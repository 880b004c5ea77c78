/* Strided copy, int8: the output in order, each element read through an affine map of
 * its index (TRANSPOSE, SLICE, STRIDED_SLICE, SPLIT, UNPACK, TILE, DEPTH_TO_SPACE, SPACE_TO_DEPTH). */
#include <stddef.h>
#include <string.h>

#include "te_ndindex.h"
#include "tinyengine.h"

te_status te_strided_copy_s8(const te_strided_copy_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->ndim < 1 || p->ndim > TE_COPY_MAX_DIMS) {
        return TE_ERROR_ARGUMENT;
    }
    /* The innermost dimension is copied as one row (a memcpy where it is contiguous);
     * the outer ones are walked. */
    const int32_t outer_dims = p->ndim - 1;
    const int32_t row = p->shape[outer_dims];
    const int32_t step = p->in_stride[outer_dims];
    const size_t rows = te_shape_size(outer_dims, p->shape);
    te_ndindex it;
    te_ndindex_init(&it, outer_dims, p->shape, p->in_stride, NULL);
    for (size_t r = 0; r < rows; r++) {
        /* offset1 wraps modulo 2^N across negative strides; as ptrdiff_t it is the signed offset. */
        const int8_t *src = input + ((ptrdiff_t)p->in_offset + (ptrdiff_t)it.offset1);
        if (step == 1) {
            memcpy(output, src, (size_t)row);
        } else {
            for (int32_t k = 0; k < row; k++) {
                output[k] = src[(ptrdiff_t)k * step];
            }
        }
        output += row;
        te_ndindex_next(&it);
    }
    return TE_OK;
}
