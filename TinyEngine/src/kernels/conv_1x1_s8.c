/* Pointwise (1x1, stride 1, unpadded) CONV_2D as a GEMM over pixels, two at a time
 * (te_gemm_pair in te_gemm_s8.h).
 *
 * Contract: `bias` is folded by the generator, bias[oc] + input_offset * sum(filter[oc]),
 * so the inner loop is a plain int8 dot product (what SMLAD computes on the DSP path);
 * input_offset is not read. Equal to te_conv_s8 in two's-complement int32 arithmetic.
 * `filter` holds the output channels in pairs, each pair's rows interleaved in 4-byte
 * chunks (lowering/conv.py gemm_filter_layout; see te_dot_rows), an odd last row as is.
 * Access order (memory/overlap.py pixel_block_gap): pixel pairs in order, each pair read
 * whole, group of channels by group, while its outputs are written group by group. */
#include "te_gemm_s8.h"
#include "te_gemm_s8_mve.h"
#include "tinyengine.h"

/* Rows interleaved by pairs, in_c % 4 tail bytes after each pair. */
TE_DOT_FNS(dot, 4, 8, len & 3)

/* Output channels per group (te_gemm_pair): 256 bytes of accumulators. */
#define GROUP 32

te_status te_conv_1x1_s8(const te_conv_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->bias == NULL || p->k_h != 1 || p->k_w != 1) {
        return TE_ERROR_ARGUMENT;
    }
#if TE_USE_MVE
    return te_conv_1x1_s8_mve(p, input, output);
#endif
    const te_conv_store_fn store = te_conv_store_for(p);
    int32_t acc[2 * GROUP];
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t cin = p->in_c, cout = p->out_c;
    for (int32_t px = 0; px < pixels; px += 2) {
        const int8_t *a = input + (size_t)px * cin;
        int8_t *out_a = output + (size_t)px * cout;
        const int has_b = px + 1 < pixels;
        te_gemm_pair(p, a, has_b ? a + cin : a, cin, out_a, has_b ? out_a + cout : out_a, &dot, store,
                     GROUP, acc);
    }
    return TE_OK;
}
