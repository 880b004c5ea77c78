/* Activation kernels: SOFTMAX, LOG_SOFTMAX, PRELU and table-driven unary functions. */
#ifndef TE_ACTIVATION_H
#define TE_ACTIVATION_H

#include <stdint.h>

#include "tinyengine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Any unary function whose output byte depends only on the input byte (LOGISTIC, TANH,
 * HARD_SWISH, ELU, GELU, the RELU family, LEAKY_RELU, PRELU with one alpha): the generator
 * evaluates TFLite's arithmetic for all 256 inputs. output[i] = table[(uint8_t)input[i]];
 * output may be input (in place). */
typedef struct {
    int32_t size;
    const int8_t *table; /* [256], indexed by the input byte read as uint8_t */
} te_lut_params;

te_status te_lut_s8(const te_lut_params *p, const int8_t *input, int8_t *output);

/* SOFTMAX over the last axis (`rows` rows of `depth`), as tflite::reference_ops::Softmax:
 * output scale 1/256, zero point -128. */
typedef struct {
    int32_t rows, depth;
    int32_t input_multiplier, input_left_shift; /* beta * input_scale in Q5.26 */
    int32_t diff_min; /* input differences below this contribute nothing */
} te_softmax_params;

te_status te_softmax_s8(const te_softmax_params *p, const int8_t *input, int8_t *output);

/* LOG_SOFTMAX over the last axis, as tflite::reference_integer_ops::LogSoftmax: output scale
 * 16/256, zero point 127. */
typedef struct {
    int32_t rows, depth;
    int32_t input_multiplier, input_left_shift; /* input_scale in Q5.26 */
    int32_t reverse_multiplier, reverse_shift;  /* Q5.26 back to input units, shift <= 0 */
    int32_t diff_min;
} te_log_softmax_params;

te_status te_log_softmax_s8(const te_log_softmax_params *p, const int8_t *input, int8_t *output);

/* PRELU with a constant alpha that differs across elements, as tflite::reference_ops::
 * BroadcastPrelu4DSlow: the output in row-major order over `shape` (the input's), reading
 * alpha[sum(index[d] * alpha_stride[d])]. */
typedef struct {
    int32_t ndim;
    int32_t shape[TE_MAX_DIMS];
    int32_t alpha_stride[TE_MAX_DIMS];
    int32_t input_offset, alpha_offset, output_offset;
    int32_t identity_multiplier, identity_shift; /* input >= 0: input_scale / output_scale */
    int32_t alpha_multiplier, alpha_shift;       /* input_scale * alpha_scale / output_scale */
    const int8_t *alpha;
} te_prelu_params;

te_status te_prelu_s8(const te_prelu_params *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif
