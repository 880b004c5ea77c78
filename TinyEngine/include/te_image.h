/* Camera frame -> int8 model input: colour conversion, bilinear resize, quantisation.
 *
 * Frames are RGB565 (16-bit little-endian pixels, red in the top 5 bits: the OpenMV
 * frame buffer's layout) or RGB888 (bytes R, G, B), rows packed, any size. Each 5- or
 * 6-bit field widens to 8 bits by repeating its top bits (r8 = r5 << 3 | r5 >> 2), so
 * black stays 0 and full scale becomes 255.
 *
 * The resize is bilinear with half-pixel centres (the source position of output column
 * x is (x + 1/2) * src_w / dst_w - 1/2, clamped to the frame): weights are exact
 * multiples of 1/256 and the result is rounded once, all in integers. Bilinear rather
 * than nearest neighbour because camera frames are mostly larger than the model input
 * and a 2:1 reduction then averages each 2x2 block instead of dropping three pixels of
 * four; for reductions beyond 2:1 it reads only the 2x2 pixels nearest each sample.
 *
 * The 8-bit value v of channel c becomes the model's int8 input through a table the
 * caller builds once with te_image_quant_table: the float input the model expects,
 * (v / 255 - mean[c]) / std[c], quantised with the input's scale and zero point
 * (round half away from zero, saturated). The table is computed in double precision,
 * the only floating point in this module. */
#ifndef TE_IMAGE_H
#define TE_IMAGE_H

#include <stdint.h>

#include "tinyengine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TE_IMAGE_CHANNELS 3
#define TE_IMAGE_MAX_SIDE 8192

typedef enum {
    TE_IMAGE_RGB565 = 0,
    TE_IMAGE_RGB888 = 1,
} te_image_format;

/* The model input's normalisation and quantisation: real = (v / 255 - mean) / std
 * (mean 0, std 1 for [0, 1]; mean 0.5, std 0.5 for [-1, 1]; ImageNet's per-channel
 * statistics), then q = round(real / scale) + zero_point (TE_INPUT_<i>_SCALE, _ZERO_POINT). */
typedef struct {
    float mean[TE_IMAGE_CHANNELS];
    float std[TE_IMAGE_CHANNELS];
    float scale;
    int32_t zero_point;
} te_image_norm_params;

/* Fills table[c][v] (TE_IMAGE_CHANNELS * 256 bytes). */
te_status te_image_quant_table(const te_image_norm_params *p, int8_t *table);

typedef struct {
    te_image_format format;
    int32_t src_h, src_w; /* the frame, 1..TE_IMAGE_MAX_SIDE */
    int32_t dst_h, dst_w; /* the model input, 1..TE_IMAGE_MAX_SIDE */
    const int8_t *table;  /* [TE_IMAGE_CHANNELS][256] from te_image_quant_table */
} te_image_params;

/* frame -> input, an NHWC [dst_h][dst_w][3] int8 tensor (RGB). */
te_status te_image_to_input(const te_image_params *p, const uint8_t *frame, int8_t *input);

#ifdef __cplusplus
}
#endif

#endif
