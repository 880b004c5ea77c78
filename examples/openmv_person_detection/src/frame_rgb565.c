#include "frame_rgb565.h"

#include <math.h>

void rgb565_swap_bytes(uint8_t *frame, size_t bytes)
{
    for (size_t i = 0; i + 1 < bytes; i += 2) {
        const uint8_t high = frame[i];
        frame[i] = frame[i + 1];
        frame[i + 1] = high;
    }
}

/* The first pixel of [lo, hi) on an axis of `size` pixels, floor(lo) clipped; the clamp
 * before the conversion keeps huge values defined. */
static int32_t first_pixel(float lo, int32_t size)
{
    return (int32_t)floorf(fminf(fmaxf(lo, 0.0f), (float)size));
}

/* One past the last pixel: ceil(hi) clipped. */
static int32_t end_pixel(float hi, int32_t size)
{
    return (int32_t)ceilf(fminf(fmaxf(hi, 0.0f), (float)size));
}

static void fill(uint8_t *frame, int32_t width, int32_t x0, int32_t y0, int32_t x1, int32_t y1, uint16_t colour)
{
    for (int32_t y = y0; y < y1; y++) {
        uint8_t *row = frame + ((size_t)y * (size_t)width + (size_t)x0) * 2u;
        for (int32_t x = x0; x < x1; x++) {
            *row++ = (uint8_t)colour;
            *row++ = (uint8_t)(colour >> 8);
        }
    }
}

void rgb565_draw_box(uint8_t *frame, int32_t width, int32_t height, float x0, float y0, float x1, float y1,
                     int32_t thickness, uint16_t colour)
{
    if (!(x0 <= x1 && y0 <= y1) || thickness <= 0) {
        return; /* also a NaN coordinate */
    }
    const int32_t left = first_pixel(x0, width), right = end_pixel(x1, width);
    const int32_t top = first_pixel(y0, height), bottom = end_pixel(y1, height);
    if (left >= right || top >= bottom) {
        return;
    }
    const int32_t tx = thickness < right - left ? thickness : right - left;
    const int32_t ty = thickness < bottom - top ? thickness : bottom - top;
    fill(frame, width, left, top, right, top + ty, colour);
    fill(frame, width, left, bottom - ty, right, bottom, colour);
    fill(frame, width, left, top, left + tx, bottom, colour);
    fill(frame, width, right - tx, top, right, bottom, colour);
}
