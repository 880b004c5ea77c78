/* MEAN and SUM, int8: tflite::reference_ops::QuantizedMeanOrSum (integer; for MEAN the
 * division by the element count folded into the multiplier by the generator). */
#include "te_fixedpoint.h"
#include "te_ndindex.h"
#include "tinyengine.h"

/* Whether the walk visits the input in memory order (the reduced axes innermost, as after
 * a TRANSPOSE to channels-first): then each output sums `count` consecutive bytes and the
 * per-element index arithmetic can go. */
static int mean_walk_is_linear(const te_mean_params *p)
{
    int32_t expected = 1;
    for (int32_t d = p->ndim - 1; d >= 0; d--) {
        if (p->shape[d] > 1 && p->in_stride[d] != expected) {
            return 0;
        }
        expected *= p->shape[d];
    }
    return 1;
}

static int8_t mean_output(const te_mean_params *p, int32_t sum)
{
    const int32_t v = te_requantize(sum - p->input_zero_point * p->count, p->multiplier, p->shift);
    return (int8_t)te_clamp(v + p->output_zero_point, -128, 127);
}

te_status te_mean_s8(const te_mean_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count <= 0 || p->ndim > TE_MAX_DIMS) {
        return TE_ERROR_ARGUMENT;
    }
    const size_t outputs = te_shape_size(p->ndim, p->shape) / (size_t)p->count;
    if (mean_walk_is_linear(p)) {
        for (size_t o = 0; o < outputs; o++) {
            int32_t sum = 0;
            for (int32_t k = 0; k < p->count; k++) {
                sum += *input++;
            }
            output[o] = mean_output(p, sum);
        }
        return TE_OK;
    }
    te_ndindex it;
    te_ndindex_init(&it, p->ndim, p->shape, p->in_stride, NULL);
    for (size_t o = 0; o < outputs; o++) {
        int32_t sum = 0;
        for (int32_t k = 0; k < p->count; k++) {
            sum += input[it.offset1];
            te_ndindex_next(&it);
        }
        output[o] = mean_output(p, sum);
    }
    return TE_OK;
}
