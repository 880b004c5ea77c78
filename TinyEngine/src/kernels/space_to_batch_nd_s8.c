/* SPACE_TO_BATCH_ND, int8: tflite::reference_ops::SpaceToBatchND, padding pixels set to
 * the output zero point. */
#include <string.h>

#include "tinyengine.h"

te_status te_space_to_batch_nd_s8(const te_space_batch_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->batches <= 0 || p->block_w <= 0) {
        return TE_ERROR_ARGUMENT;
    }
    const size_t depth = (size_t)p->channels;
    const int32_t out_batches = p->block_h * p->block_w * p->batches;
    for (int32_t ob = 0; ob < out_batches; ob++) {
        const int32_t n = ob % p->batches;
        const int32_t shift = ob / p->batches;
        const int32_t shift_h = shift / p->block_w;
        const int32_t shift_w = shift % p->block_w;
        for (int32_t oy = 0; oy < p->batch_h; oy++) {
            const int32_t y = oy * p->block_h + shift_h - p->pad_top;
            for (int32_t ox = 0; ox < p->batch_w; ox++) {
                const int32_t x = ox * p->block_w + shift_w - p->pad_left;
                if (y < 0 || y >= p->space_h || x < 0 || x >= p->space_w) {
                    memset(output, p->pad_value, depth);
                } else {
                    memcpy(output, input + (((size_t)n * (size_t)p->space_h + (size_t)y) * (size_t)p->space_w +
                                             (size_t)x) * depth, depth);
                }
                output += depth;
            }
        }
    }
    return TE_OK;
}
