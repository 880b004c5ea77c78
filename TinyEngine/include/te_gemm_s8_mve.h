/* The Helium (MVE) path of the GEMM-based convolutions (te_conv_1x1_s8, te_conv_s8's im2col
 * path), in place of te_gemm_pair (te_gemm_s8.h) where TE_USE_MVE: 16 input channels of two
 * pixels against a pair of filter rows per step, each row's dot product one VMLADAVA (16
 * multiply-accumulates), then the output stage on four channels at a time
 * (te_mve_requantize). It reads the filter layout the generator makes for te_dot_rows
 * (lowering/conv.py gemm_filter_layout); see gemm_s8_mve.c. */
#ifndef TE_GEMM_S8_MVE_H
#define TE_GEMM_S8_MVE_H

#include "tinyengine.h"

#if TE_USE_MVE
#include <arm_mve.h>

/* A layer's constants for te_gemm_mve_pair (te_gemm_mve_prepare). */
typedef struct {
    int32_t len;         /* bytes per filter row and per input column */
    int32_t chunks;      /* len / 16: 16 channels of a row pair per step */
    int32_t tail;        /* len % 16 */
    int32_t aligned;     /* the pairs are word-aligned: VLD2 de-interleaves them */
    uint8x16_t tail_m;   /* byte offsets of rows m's and n's tail bytes in a pair's tail (lanes */
    uint8x16_t tail_n;   /* from `tail` on point at its first byte, against zero inputs) */
    mve_pred16_t tail_lanes;
} te_gemm_mve;

void te_gemm_mve_prepare(te_gemm_mve *g, const te_conv_params *p, int32_t len);

/* Every output channel of the pixels whose columns are a and b (b == a for a last odd pixel:
 * its outputs are written once), written to out_a and out_b. */
void te_gemm_mve_pair(const te_gemm_mve *g, const te_conv_params *p, const int8_t *a, const int8_t *b,
                      int8_t *out_a, int8_t *out_b);

te_status te_conv_1x1_s8_mve(const te_conv_params *p, const int8_t *input, int8_t *output);
#endif

#endif
