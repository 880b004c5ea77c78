/* Any int8 -> int8 function of one byte, by a 256-entry table the generator filled with
 * TFLite's own arithmetic for that operator and quantisation. */
#include "tinyengine.h"

te_status te_lut_s8(const te_lut_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || p->table == NULL || input == NULL || output == NULL || p->size < 0) {
        return TE_ERROR_ARGUMENT;
    }
    for (int32_t i = 0; i < p->size; i++) {
        output[i] = p->table[(uint8_t)input[i]];
    }
    return TE_OK;
}
