/* LOG_SOFTMAX, int8, over the last axis: tflite::reference_integer_ops::LogSoftmax. The row's
 * sum of exps (gemmlowp fixed point, Q12) gives log(sum) in Q5.26, which is subtracted from each
 * scaled difference; the output maps [-255/16, 0] onto [-128, 127]. */
#include "te_fixedpoint_exp.h"
#include "tinyengine.h"

enum { INPUT_INTEGER_BITS = 5, ACCUMULATION_INTEGER_BITS = 12, OUTPUT_INTEGER_BITS = 4, OUTPUT_ZERO_POINT = 127 };

te_status te_log_softmax_s8(const te_log_softmax_params *p, const int8_t *input, int8_t *output)
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
                const int32_t diff_in_q5 = te_requantize(diff, p->input_multiplier, p->input_left_shift);
                const int32_t exp_in_q0 = te_fx_exp_on_negative_values(diff_in_q5, INPUT_INTEGER_BITS);
                sum_of_exps = te_fx_add(sum_of_exps, te_fx_mul_pot(exp_in_q0, -ACCUMULATION_INTEGER_BITS));
            }
        }
        const int32_t log_sum_of_exps_in_q5 =
            te_fx_log_x_for_x_greater_than_or_equal_to_1(sum_of_exps, ACCUMULATION_INTEGER_BITS, INPUT_INTEGER_BITS);
        /* Differences so negative that the output would fall below the int8 range give -128
         * directly (TFLite's `>` here, against `>=` above). */
        const int32_t shifted_log_sum = te_fx_add(log_sum_of_exps_in_q5, INT32_MIN);
        const int32_t reversed = te_requantize(shifted_log_sum, p->reverse_multiplier, p->reverse_shift);
        const int32_t adjusted_diff_min = reversed > p->diff_min - 1 ? reversed : p->diff_min - 1;
        /* Reads in[c] before writing out[c] and nothing of the row after it: may run in place. */
        for (int32_t c = 0; c < p->depth; c++) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            int32_t value = INT8_MIN;
            if (diff > adjusted_diff_min) {
                const int32_t diff_in_q5 = te_requantize(diff, p->input_multiplier, p->input_left_shift);
                value = te_rounding_divide_by_pot(te_fx_sub(diff_in_q5, log_sum_of_exps_in_q5),
                                                  31 - INPUT_INTEGER_BITS - OUTPUT_INTEGER_BITS) +
                        OUTPUT_ZERO_POINT;
                value = te_clamp(value, INT8_MIN, INT8_MAX);
            }
            out[c] = (int8_t)value;
        }
    }
    return TE_OK;
}
