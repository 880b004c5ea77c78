/* AVERAGE_POOL_2D, int8: tflite::reference_integer_ops::AveragePool (rounded division by the
 * number of cells inside the input). */
#include "te_fixedpoint.h"
#include "te_window.h"
#include "tinyengine.h"

te_status te_avg_pool_s8(const te_pool_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->channels;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            int32_t ky0;
            const int32_t rows = te_window_clip(y0, p->k_h, p->in_h, &ky0), ky1 = ky0 + rows;
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                int32_t kx0;
                const int32_t cols = te_window_clip(x0, p->k_w, p->in_w, &kx0), kx1 = kx0 + cols;
                const int32_t count = (ky1 - ky0) * (kx1 - kx0);
                for (int32_t c = 0; c < p->channels; c++) {
                    int32_t sum = 0;
                    for (int32_t ky = ky0; ky < ky1; ky++) {
                        for (int32_t kx = kx0; kx < kx1; kx++) {
                            sum += in_b[((size_t)(y0 + ky) * p->in_w + (x0 + kx)) * p->channels + c];
                        }
                    }
                    if (count <= 0) {
                        return TE_ERROR_ARGUMENT;
                    }
                    const int32_t avg = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
                    output[(((size_t)b * p->out_h + oy) * p->out_w + ox) * p->channels + c] =
                        (int8_t)te_clamp(avg, p->act_min, p->act_max);
                }
            }
        }
    }
    return TE_OK;
}
