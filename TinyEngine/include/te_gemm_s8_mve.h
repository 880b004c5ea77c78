/* The Helium (MVE) path of the GEMM-based convolutions (te_conv_1x1_s8, te_conv_s8's im2col
 * path), in place of te_gemm_block (te_gemm_s8.h) where TE_USE_MVE: 16 input channels of two
 * pixels against a pair of filter rows per step, each row's dot product one VMLADAVA (16
 * multiply-accumulates), then the output stage on four channels at a time
 * (te_mve_requantize). It reads the filter layout the generator makes for te_gemm_block
 * (lowering/conv.py gemm_filter_layout); see gemm_s8_mve.c. */
#ifndef TE_GEMM_S8_MVE_H
#define TE_GEMM_S8_MVE_H

#include "te_gemm_s8.h"
#include "tinyengine.h"

#if TE_USE_MVE
#include <arm_mve.h>

/* The longest row te_conv_1x1_s8_mve takes: the pointwise layers' bound (lowering/conv.py
 * POINTWISE_MAX_IN_C). */
#define TE_GEMM_MVE_MAX_LEN TE_GEMM_SCRATCH_HALVES

/* A layer's constants for te_gemm_mve_pair (te_gemm_mve_prepare). */
typedef struct {
    int32_t len;    /* bytes per input column and per filter row's dot product */
    int32_t stride; /* bytes from one filter row to the next: len rounded up to 4 */
    int32_t chunks; /* len / 16: 16 channels of a row per step */
    int32_t tail;   /* len % 16 */
    mve_pred16_t tail_lanes; /* the last len % 16 bytes */
    int32_t halve; /* the bias is doubled (gemm_double: the DSP path's form) */
} te_gemm_mve;

void te_gemm_mve_prepare(te_gemm_mve *g, const te_conv_params *p, int32_t len);

/* Every output channel of the pixels whose columns are a and b (b == a for a last odd pixel:
 * its outputs are written once), written to out_a and out_b. */
void te_gemm_mve_pair(const te_gemm_mve *g, const te_conv_params *p, const int8_t *a, const int8_t *b,
                      int8_t *out_a, int8_t *out_b);

te_status te_conv_1x1_s8_mve(const te_conv_params *p, const int8_t *input, int8_t *output, int8_t *columns);
#endif

#endif
