/* CONCATENATION, int8 (TFLite requires equal quantisation, so this is a copy). */
#include <string.h>

#include "tinyengine.h"

te_status te_concatenation_s8(const te_concat_params *p, const int8_t *const *inputs, int8_t *output)
{
    if (p == NULL || inputs == NULL || output == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    for (int32_t o = 0; o < p->outer; o++) {
        for (int32_t i = 0; i < p->num_inputs; i++) {
            const size_t n = (size_t)p->inner_size[i];
            memcpy(output, inputs[i] + (size_t)o * n, n);
            output += n;
        }
    }
    return TE_OK;
}
