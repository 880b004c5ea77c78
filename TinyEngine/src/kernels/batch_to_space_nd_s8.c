/* BATCH_TO_SPACE_ND, int8: tflite::reference_ops::BatchToSpaceND, walked in output order
 * (each output pixel is one input pixel; the crops drop the rest). */
#include <string.h>

#include "tinyengine.h"

te_status te_batch_to_space_nd_s8(const te_space_batch_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->block_h <= 0 || p->block_w <= 0) {
        return TE_ERROR_ARGUMENT;
    }
    const size_t depth = (size_t)p->channels;
    for (int32_t n = 0; n < p->batches; n++) {
        for (int32_t y = 0; y < p->space_h; y++) {
            const int32_t row = y + p->pad_top;
            const int32_t iy = row / p->block_h;
            const int32_t shift_h = row % p->block_h;
            for (int32_t x = 0; x < p->space_w; x++) {
                const int32_t col = x + p->pad_left;
                const int32_t ib = (shift_h * p->block_w + col % p->block_w) * p->batches + n;
                memcpy(output, input + (((size_t)ib * (size_t)p->batch_h + (size_t)iy) * (size_t)p->batch_w +
                                        (size_t)(col / p->block_w)) * depth, depth);
                output += depth;
            }
        }
    }
    return TE_OK;
}
