/* QUANTIZE int8 -> int8: tflite::reference_ops::Requantize. */
#include "te_fixedpoint.h"
#include "tinyengine.h"

te_status te_requantize_s8(const te_requantize_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    for (int32_t i = 0; i < p->size; i++) {
        const int32_t v = te_requantize((int32_t)input[i] + p->input_offset, p->multiplier, p->shift);
        output[i] = (int8_t)te_clamp(v + p->output_offset, -128, 127);
    }
    return TE_OK;
}
