/* MEAN, int8: the three arithmetics of TFLite's reference kernel (reduce.cc). */
#include <math.h>

#include "te_fixedpoint.h"
#include "te_ndindex.h"
#include "tinyengine.h"

static int8_t mean_integer(const te_mean_params *p, int32_t sum)
{
    /* reference_integer_ops::Mean: requantise the zero-point-free sum, then divide rounding half away. */
    const int32_t n = p->count;
    int32_t acc = sum - p->input_zero_point * n;
    acc = te_requantize(acc, p->multiplier, p->shift);
    acc = acc > 0 ? (acc + n / 2) / n : (acc - n / 2) / n;
    return (int8_t)te_clamp(acc + p->output_zero_point, -128, 127);
}

static int8_t mean_float(const te_mean_params *p, int32_t sum)
{
    /* volatile keeps the product rounded to float before the add (no fused multiply-add),
     * as in TFLite's own build. */
    const float mean = (float)sum / (float)p->count;
    volatile float scaled = mean * p->scale;
    float result = roundf(scaled + p->bias) + (float)p->output_zero_point;
    result = result < 127.0f ? result : 127.0f;
    result = result > -128.0f ? result : -128.0f;
    return (int8_t)result;
}

te_status te_mean_s8(const te_mean_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count <= 0 || p->ndim > TE_MAX_DIMS) {
        return TE_ERROR_ARGUMENT;
    }
    const size_t outputs = te_shape_size(p->ndim, p->shape) / (size_t)p->count;
    te_ndindex it;
    te_ndindex_init(&it, p->ndim, p->shape, p->in_stride, NULL);
    for (size_t o = 0; o < outputs; o++) {
        int32_t sum = 0;
        for (int32_t k = 0; k < p->count; k++) {
            sum += input[it.offset1];
            te_ndindex_next(&it);
        }
        switch (p->mode) {
        case TE_MEAN_INTEGER:
            output[o] = mean_integer(p, sum);
            break;
        case TE_MEAN_SAME_SCALE:
            output[o] = (int8_t)(sum / p->count);
            break;
        default:
            output[o] = mean_float(p, sum);
            break;
        }
    }
    return TE_OK;
}
