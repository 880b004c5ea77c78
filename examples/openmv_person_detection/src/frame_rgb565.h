/* RGB565 frames as te_image reads them (16-bit little-endian pixels, red in the top 5 bits,
 * rows packed): the byte swap that turns the camera's byte order into that one, and box
 * outlines drawn into a frame. No I/O; tests/test_openmv_camera.py checks both against NumPy. */
#ifndef FRAME_RGB565_H
#define FRAME_RGB565_H

#include <stddef.h>
#include <stdint.h>

#define RGB565_GREEN 0x07E0u

/* Swaps the two bytes of each pixel: `bytes` (even) bytes from the sensor's order, high byte
 * first, to little-endian, or back. */
void rgb565_swap_bytes(uint8_t *frame, size_t bytes);

/* Draws the outline of the box x0..x1, y0..y1 (frame pixels, as te_detection gives them)
 * `thickness` pixels wide, inside the box, in `colour`, into a width x height frame. The box
 * covers the pixels from floor(x0) to ceil(x1) - 1 (likewise in y), clipped to the frame (an
 * edge outside the frame is drawn on its border); a box with no pixel in the frame, or with a
 * NaN coordinate, draws nothing. */
void rgb565_draw_box(uint8_t *frame, int32_t width, int32_t height, float x0, float y0, float x1, float y1,
                     int32_t thickness, uint16_t colour);

#endif
