/* DEPTHWISE_CONV_2D, int8, per-channel: tflite::reference_integer_ops::DepthwiseConvPerChannel. */
#include "te_fixedpoint.h"
#include "tinyengine.h"

te_status te_depthwise_conv_s8(const te_conv_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->depth_multiplier < 1) {
        return TE_ERROR_ARGUMENT;
    }
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_top;
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                for (int32_t oc = 0; oc < p->out_c; oc++) {
                    const int32_t ic = oc / p->depth_multiplier;
                    int32_t acc = 0;
                    for (int32_t ky = 0; ky < p->k_h; ky++) {
                        const int32_t iy = y0 + ky * p->dil_h;
                        if (iy < 0 || iy >= p->in_h) {
                            continue;
                        }
                        for (int32_t kx = 0; kx < p->k_w; kx++) {
                            const int32_t ix = x0 + kx * p->dil_w;
                            if (ix < 0 || ix >= p->in_w) {
                                continue;
                            }
                            const int32_t x = in_b[((size_t)iy * p->in_w + ix) * p->in_c + ic];
                            const int32_t w = p->filter[((size_t)ky * p->k_w + kx) * p->out_c + oc];
                            acc += (x + p->input_offset) * w;
                        }
                    }
                    if (p->bias != NULL) {
                        acc = te_wrapping_add(acc, p->bias[oc]);
                    }
                    acc = te_wrapping_add(te_requantize(acc, p->multiplier[oc], p->shift[oc]), p->output_offset);
                    output[(((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                        (int8_t)te_clamp(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return TE_OK;
}
