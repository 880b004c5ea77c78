/* FULLY_CONNECTED, int8, per tensor or per channel, as LiteRT's reference kernel computes it
 * (its requantisation rounds once, unlike the convolutions'). */
#include "te_fixedpoint.h"
#include "tinyengine.h"

te_status te_fully_connected_s8(const te_fc_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *x = input + (size_t)b * p->in_features;
        for (int32_t o = 0; o < p->out_features; o++) {
            const int8_t *w = p->filter + (size_t)o * p->in_features;
            int32_t acc = 0;
            for (int32_t i = 0; i < p->in_features; i++) {
                acc += ((int32_t)x[i] + p->input_offset) * ((int32_t)w[i] + p->filter_offset);
            }
            if (p->bias != NULL) {
                acc = te_wrapping_add(acc, p->bias[o]);
            }
            const int32_t c = p->per_channel ? o : 0;
            acc = te_wrapping_add(te_requantize_single_round(acc, p->multiplier[c], p->shift[c]), p->output_offset);
            output[(size_t)b * p->out_features + o] = (int8_t)te_clamp(acc, p->act_min, p->act_max);
        }
    }
    return TE_OK;
}
