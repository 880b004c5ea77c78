/* RESIZE_NEAREST_NEIGHBOR, int8: a gather through source-index tables. */
#include <string.h>

#include "tinyengine.h"

te_status te_resize_nearest_s8(const te_resize_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    const size_t c = (size_t)p->channels;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * c;
        for (int32_t y = 0; y < p->out_h; y++) {
            const int8_t *in_row = in_b + (size_t)p->src_y[y] * p->in_w * c;
            for (int32_t x = 0; x < p->out_w; x++) {
                memcpy(output, in_row + (size_t)p->src_x[x] * c, c);
                output += c;
            }
        }
    }
    return TE_OK;
}
