/* SOFTMAX, int8, over the last axis: tflite::reference_ops::Softmax. Differences from the row
 * maximum, scaled by beta * input_scale into Q5.26, go through gemmlowp's fixed-point exp; their
 * sum (Q12) is inverted once per row. Differences below diff_min are treated as exp = 0.
 *
 * TFLite aborts (TFLITE_CHECK) on a row whose sum of exps reaches 512, where every probability
 * is at most 1/512 and so rounds to 0: this kernel outputs that 0 (-128) instead, and saturates
 * the sum rather than let rows longer than 4096 wrap it. */
#include "te_fixedpoint_exp.h"
#include "tinyengine.h"

enum { SCALED_DIFF_INTEGER_BITS = 5, ACCUMULATION_INTEGER_BITS = 12 };

/* exp(beta * input_scale * diff) in Q0 (tflite::MultiplyByQuantizedMultiplierGreaterThanOne,
 * then exp_on_negative_values); diff >= diff_min keeps the shifted value within int32. */
static int32_t scaled_exp(const te_softmax_params *p, int32_t diff)
{
    const int32_t rescaled = te_srdhm((int32_t)((uint32_t)diff << p->input_left_shift), p->input_multiplier);
    return te_fx_exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS);
}

te_status te_softmax_s8(const te_softmax_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->depth <= 0 || p->rows < 0) {
        return TE_ERROR_ARGUMENT;
    }
    for (int32_t r = 0; r < p->rows; r++) {
        const int8_t *in = input + (size_t)r * (size_t)p->depth;
        int8_t *out = output + (size_t)r * (size_t)p->depth;
        const int32_t max_in_row = te_row_max_s8(in, p->depth);
        int32_t sum_of_exps = 0; /* Q12 */
        for (int32_t c = 0; c < p->depth; c++) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                sum_of_exps = te_fx_saturating_add(sum_of_exps,
                                                   te_fx_mul_pot(scaled_exp(p, diff), -ACCUMULATION_INTEGER_BITS));
            }
        }
        int num_bits_over_unit;
        const int32_t shifted_scale = te_fx_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS, &num_bits_over_unit);
        const int exponent = num_bits_over_unit + 31 - 8;
        /* Reads in[c] before writing out[c] and nothing of the row after it: may run in place. */
        for (int32_t c = 0; c < p->depth; c++) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            int32_t value = INT8_MIN;
            if (diff >= p->diff_min) {
                const int32_t unsat = exponent > 31 ? 0 : te_rounding_divide_by_pot(
                                                             te_srdhm(shifted_scale, scaled_exp(p, diff)), exponent);
                value = te_clamp(unsat + INT8_MIN, INT8_MIN, INT8_MAX);
            }
            out[c] = (int8_t)value;
        }
    }
    return TE_OK;
}
