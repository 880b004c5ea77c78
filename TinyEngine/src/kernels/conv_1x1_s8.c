/* Pointwise (1x1, stride 1, unpadded) CONV_2D as a GEMM over pixels: two pixels by two
 * output channels per block, so each loaded input and weight is used twice; the block's
 * accumulators wait on the stack until a group of channels is done, then go through the
 * output stage together (te_gemm_s8.h).
 *
 * Contract: `bias` is folded by the generator, bias[oc] + input_offset * sum(filter[oc]),
 * so the inner loop is a plain int8 dot product (what SMLAD computes on the DSP path);
 * input_offset is not read. Equal to te_conv_s8 in two's-complement int32 arithmetic.
 * Access order (memory/overlap.py pixel_block_gap): pixel pairs in order, each pair read
 * whole while its outputs are written. */
#include "te_gemm_s8.h"
#include "tinyengine.h"

/* Output channels per group: 2 x 16 accumulators on the stack. */
#define GROUP 16

/* Pixels a and b (b == a for a last odd pixel, whose outputs are then written twice);
 * specialised for full_range below. */
static inline __attribute__((always_inline)) void pixel_pair(const te_conv_params *p, const int8_t *a, const int8_t *b, int8_t *out_a, int8_t *out_b,
                       int full_range)
{
    const int32_t cin = p->in_c, cout = p->out_c;
    const int8_t *m = p->filter;
    const int32_t *bias = p->bias;
    for (int32_t oc = 0; oc < cout; oc += GROUP) {
        const int32_t count = cout - oc < GROUP ? cout - oc : GROUP;
        int32_t acc[2 * GROUP];
        for (int32_t j = 0; j < count; j += 2) {
            const int8_t *n = j + 1 < count ? m + cin : m;
            int32_t block[4] = {bias[oc + j], bias[oc + j + (j + 1 < count)], 0, 0};
            block[2] = block[0];
            block[3] = block[1];
            te_dot_2x2_s8(a, b, m, n, cin, 0, 0, block);
            acc[2 * j] = block[0];
            acc[2 * j + 1] = block[2];
            acc[2 * j + 2] = block[1];
            acc[2 * j + 3] = block[3];
            m = n + cin;
        }
        te_conv_store_pair(p, oc, count, acc, out_a + oc, out_b + oc, full_range);
    }
}

static void pixel_pair_full_range(const te_conv_params *p, const int8_t *a, const int8_t *b, int8_t *out_a,
                                  int8_t *out_b)
{
    pixel_pair(p, a, b, out_a, out_b, 1);
}

static void pixel_pair_clamped(const te_conv_params *p, const int8_t *a, const int8_t *b, int8_t *out_a,
                               int8_t *out_b)
{
    pixel_pair(p, a, b, out_a, out_b, 0);
}

te_status te_conv_1x1_s8(const te_conv_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->bias == NULL || p->k_h != 1 || p->k_w != 1) {
        return TE_ERROR_ARGUMENT;
    }
    void (*const pair)(const te_conv_params *, const int8_t *, const int8_t *, int8_t *, int8_t *) =
        p->act_min <= -128 && p->act_max >= 127 ? pixel_pair_full_range : pixel_pair_clamped;
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t cin = p->in_c, cout = p->out_c;
    for (int32_t px = 0; px < pixels; px += 2) {
        const int8_t *a = input + (size_t)px * cin;
        int8_t *out_a = output + (size_t)px * cout;
        const int has_b = px + 1 < pixels;
        pair(p, a, has_b ? a + cin : a, out_a, has_b ? out_a + cout : out_a);
    }
    return TE_OK;
}
