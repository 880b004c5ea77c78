/* Camera frame preprocessing (te_image.h). */
#include <stddef.h>

#include "te_image.h"

/* One axis of the bilinear resize: the two source indices and the Q8 weight of the
 * second. Positions are exact fractions of 1 / (2 * dst): (2 * d + 1) * src - dst. */
typedef struct {
    int32_t i0, i1, weight;
} axis_sample;

static axis_sample sample_axis(int32_t d, int32_t src, int32_t dst)
{
    const int32_t den = 2 * dst;
    int32_t pos = (2 * d + 1) * src - dst;
    if (pos < 0) {
        pos = 0;
    }
    axis_sample s;
    s.i0 = pos / den;
    s.i1 = s.i0 + 1 < src ? s.i0 + 1 : src - 1;
    s.weight = ((pos - s.i0 * den) * 256 + den / 2) / den;
    return s;
}

static void read_pixel(te_image_format format, const uint8_t *frame, int32_t index, int32_t rgb[TE_IMAGE_CHANNELS])
{
    if (format == TE_IMAGE_RGB565) {
        const uint32_t v = (uint32_t)frame[2 * index] | ((uint32_t)frame[2 * index + 1] << 8);
        const uint32_t r = v >> 11, g = (v >> 5) & 0x3F, b = v & 0x1F;
        rgb[0] = (int32_t)((r << 3) | (r >> 2));
        rgb[1] = (int32_t)((g << 2) | (g >> 4));
        rgb[2] = (int32_t)((b << 3) | (b >> 2));
    } else {
        for (int c = 0; c < TE_IMAGE_CHANNELS; c++) {
            rgb[c] = frame[TE_IMAGE_CHANNELS * index + c];
        }
    }
}

static int side_valid(int32_t n)
{
    return n >= 1 && n <= TE_IMAGE_MAX_SIDE;
}

te_status te_image_to_input(const te_image_params *p, const uint8_t *frame, int8_t *input)
{
    if (p == NULL || frame == NULL || input == NULL || p->table == NULL ||
        (p->format != TE_IMAGE_RGB565 && p->format != TE_IMAGE_RGB888) || !side_valid(p->src_h) ||
        !side_valid(p->src_w) || !side_valid(p->dst_h) || !side_valid(p->dst_w)) {
        return TE_ERROR_ARGUMENT;
    }
    for (int32_t y = 0; y < p->dst_h; y++) {
        const axis_sample sy = sample_axis(y, p->src_h, p->dst_h);
        for (int32_t x = 0; x < p->dst_w; x++) {
            const axis_sample sx = sample_axis(x, p->src_w, p->dst_w);
            int32_t p00[TE_IMAGE_CHANNELS], p01[TE_IMAGE_CHANNELS], p10[TE_IMAGE_CHANNELS], p11[TE_IMAGE_CHANNELS];
            read_pixel(p->format, frame, sy.i0 * p->src_w + sx.i0, p00);
            read_pixel(p->format, frame, sy.i0 * p->src_w + sx.i1, p01);
            read_pixel(p->format, frame, sy.i1 * p->src_w + sx.i0, p10);
            read_pixel(p->format, frame, sy.i1 * p->src_w + sx.i1, p11);
            for (int c = 0; c < TE_IMAGE_CHANNELS; c++) {
                /* At most 255 * 256 * 256 + 2^15: well inside int32. */
                const int32_t top = p00[c] * (256 - sx.weight) + p01[c] * sx.weight;
                const int32_t bottom = p10[c] * (256 - sx.weight) + p11[c] * sx.weight;
                const int32_t v = (top * (256 - sy.weight) + bottom * sy.weight + (1 << 15)) >> 16;
                *input++ = p->table[c * 256 + v];
            }
        }
    }
    return TE_OK;
}

te_status te_image_quant_table(const te_image_norm_params *p, int8_t *table)
{
    if (p == NULL || table == NULL || !(p->scale > 0.0f)) {
        return TE_ERROR_ARGUMENT;
    }
    for (int c = 0; c < TE_IMAGE_CHANNELS; c++) {
        if (!(p->std[c] > 0.0f) || !(p->mean[c] == p->mean[c])) {
            return TE_ERROR_ARGUMENT;
        }
    }
    for (int c = 0; c < TE_IMAGE_CHANNELS; c++) {
        for (int v = 0; v < 256; v++) {
            double y = (((double)v / 255.0 - (double)p->mean[c]) / (double)p->std[c]) / (double)p->scale;
            /* Bounded first, so the conversion to an integer is defined. */
            y = y < -1024.0 ? -1024.0 : (y > 1024.0 ? 1024.0 : y);
            int32_t q = (int32_t)(y >= 0.0 ? y + 0.5 : y - 0.5) + p->zero_point;
            q = q < -128 ? -128 : (q > 127 ? 127 : q);
            table[c * 256 + v] = (int8_t)q;
        }
    }
    return TE_OK;
}
