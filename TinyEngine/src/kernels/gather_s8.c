/* GATHER, int8, constant indices: tflite::reference_ops::Gather (rows of `inner` bytes). */
#include <string.h>

#include "tinyengine.h"

te_status te_gather_s8(const te_gather_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->indices == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    const size_t inner = (size_t)p->inner;
    for (int32_t b = 0; b < p->batches; b++) {
        const int32_t *indices = p->indices + (size_t)b * (size_t)p->coords;
        for (int32_t o = 0; o < p->outer; o++) {
            const int8_t *rows = input + ((size_t)b * (size_t)p->outer + (size_t)o) * (size_t)p->axis_size * inner;
            for (int32_t c = 0; c < p->coords; c++) {
                memcpy(output, rows + (size_t)indices[c] * inner, inner);
                output += inner;
            }
        }
    }
    return TE_OK;
}
