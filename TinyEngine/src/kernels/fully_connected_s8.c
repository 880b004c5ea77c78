/* FULLY_CONNECTED, int8, per tensor or per channel, as LiteRT's reference kernel computes it
 * (its requantisation rounds once, unlike the convolutions').
 *
 * TFLite sums (x + input_offset) * (w + filter_offset) in int32. Expanded, that is
 * sum x * w + filter_offset * sum x + input_offset * sum (w + filter_offset): the last term is
 * the generator's (folded into `bias`), the middle one is computed once per batch row (most
 * int8 models have filter_offset 0), and the dot products are plain int8 ones, on the DSP path
 * four weight rows at a time sharing each input word's SXTB16. Every step wraps like TFLite's
 * int32 arithmetic, so the sum is the same. */
#include "te_fixedpoint.h"
#include "te_gemm_s8.h"
#include "tinyengine.h"

/* Accumulators of rows [0, rows) (rows <= 4, each len bytes, `stride` apart) dotted with x,
 * added to acc. */
static void dot_rows(const int8_t *x, const int8_t *w, int32_t len, int32_t stride, int32_t rows, uint32_t *acc)
{
    int32_t i = 0;
#if TE_USE_DSP
    if (rows == 4) {
        uint32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
        const int8_t *w1 = w + stride, *w2 = w1 + stride, *w3 = w2 + stride;
        for (; i + 4 <= len; i += 4) {
            const uint32_t xv = te_load4(x + i);
            const uint32_t xe = __sxtb16(xv), xo = te_sxtb16_ror8(xv);
            uint32_t v = te_load4(w + i);
            a0 = (uint32_t)__smlad(xo, te_sxtb16_ror8(v), __smlad(xe, __sxtb16(v), (int32_t)a0));
            v = te_load4(w1 + i);
            a1 = (uint32_t)__smlad(xo, te_sxtb16_ror8(v), __smlad(xe, __sxtb16(v), (int32_t)a1));
            v = te_load4(w2 + i);
            a2 = (uint32_t)__smlad(xo, te_sxtb16_ror8(v), __smlad(xe, __sxtb16(v), (int32_t)a2));
            v = te_load4(w3 + i);
            a3 = (uint32_t)__smlad(xo, te_sxtb16_ror8(v), __smlad(xe, __sxtb16(v), (int32_t)a3));
        }
        acc[0] = a0;
        acc[1] = a1;
        acc[2] = a2;
        acc[3] = a3;
    }
#endif
    for (int32_t r = 0; r < rows; r++) {
        const int8_t *wr = w + (size_t)r * stride;
        uint32_t a = acc[r];
        for (int32_t k = i; k < len; k++) {
            a += (uint32_t)(x[k] * wr[k]);
        }
        acc[r] = a;
    }
}

te_status te_fully_connected_s8(const te_fc_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->bias == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    const int32_t len = p->in_features, outs = p->out_features;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *x = input + (size_t)b * len;
        uint32_t input_term = 0;
        if (p->filter_offset != 0) {
            for (int32_t i = 0; i < len; i++) {
                input_term += (uint32_t)x[i];
            }
            input_term *= (uint32_t)p->filter_offset;
        }
        for (int32_t o = 0; o < outs; o += 4) {
            const int32_t rows = outs - o < 4 ? outs - o : 4;
            uint32_t acc[4] = {0, 0, 0, 0};
            for (int32_t r = 0; r < rows; r++) {
                acc[r] = (uint32_t)p->bias[o + r] + input_term;
            }
            dot_rows(x, p->filter + (size_t)o * len, len, len, rows, acc);
            for (int32_t r = 0; r < rows; r++) {
                const int32_t c = p->per_channel ? o + r : 0;
                const int32_t v = te_wrapping_add(te_requantize_single_round((int32_t)acc[r], p->multiplier[c],
                                                                             p->shift[c]),
                                                  p->output_offset);
                output[(size_t)b * outs + o + r] = (int8_t)te_clamp(v, p->act_min, p->act_max);
            }
        }
    }
    return TE_OK;
}
