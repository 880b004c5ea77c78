/* Strided row copy: a patch of a feature map into its place in the full map. */
#include <string.h>

#include "tinyengine.h"

te_status te_copy_rows_s8(const te_copy_rows_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    for (int32_t r = 0; r < p->rows; r++) {
        memcpy(output + (size_t)r * (size_t)p->dst_stride, input + (size_t)r * (size_t)p->src_stride,
               (size_t)p->row_bytes);
    }
    return TE_OK;
}
