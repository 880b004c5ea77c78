/* Byte copy, for reshapes whose input and output live apart. */
#include <string.h>

#include "tinyengine.h"

te_status te_copy_s8(const te_copy_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    memmove(output, input, (size_t)p->size);
    return TE_OK;
}
