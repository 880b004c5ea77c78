/* CONV_2D, int8, per-channel requantisation: tflite::reference_integer_ops::ConvPerChannel.
 *
 * Contract: `bias` is folded by the generator, bias[oc] + input_offset * sum(filter[oc]) over
 * the whole window, and taps outside the input (padding: patches pass any) count as the
 * input zero point, -input_offset: then every tap adds x * w and a padding tap adds
 * (zero point + input_offset) * w = 0 as in TFLite, in two's-complement int32 arithmetic.
 *
 * Windows of up to TE_CONV_COLUMN_MAX bytes (k_h * k_w * in_c: every first layer on RGB,
 * 3x3 on up to 113 channels) run as a GEMM: the windows of a block of up to 6 output pixels
 * are copied into a column (im2col, padding filled with the zero point) and widened into
 * te_gemm's scratch, then te_gemm_block (te_gemm_s8.h, conv_1x1_s8.c) multiplies them with
 * every filter row; the column and the widened block live in the caller's scratch
 * (te_conv_s8_get_buffer_size). For these the generator pads each row with zeros to a
 * multiple of 4 bytes (lowering/conv.py gemm_filter_layout); larger windows take the direct
 * loop below on rows [out_c][k_h][k_w][in_c].
 *
 * Access order: blocks of pixels in order, every window of a block read before any of its
 * pixels is written; the direct loop reads each pixel's window while writing it. Either is
 * at least as safe as memory/overlap.py's window_kernel_gap assumes (one pixel at a time). */
#include <string.h>

#include "te_fixedpoint.h"
#include "te_gemm_s8.h"
#include "te_gemm_s8_mve.h"
#include "tinyengine.h"

/* Windows up to this many bytes take the GEMM: one pixel's widened column fits te_gemm's
 * block bound (lowering/conv.py CONV_COLUMN_MAX). */
#define TE_CONV_COLUMN_MAX (4 * TE_GEMM_MAX_CHUNKS)

/* Short copies and fills, word by word: the libc calls cost more than these rows. */
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4, dst += 4, src += 4) {
        memcpy(dst, src, 4);
    }
    for (; n > 0; n--) {
        *dst++ = *src++;
    }
}

static inline void fill_bytes(int8_t *dst, int8_t value, int32_t n)
{
    for (; n > 0; n--) {
        *dst++ = value;
    }
}

/* GCC turns copy_bytes' and fill_bytes' loops back into memcpy and memset calls unless told not to. */
#if defined(__GNUC__) && !defined(__clang__)
#define TE_NO_LIBC_CALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define TE_NO_LIBC_CALLS
#endif

/* The window of output pixel `pixel` (row-major over batches, rows, columns) as a column. */
static TE_NO_LIBC_CALLS __attribute__((noinline)) void im2col(const te_conv_params *p, const int8_t *input, int32_t pixel, int8_t *col)
{
    const int32_t ox = pixel % p->out_w, rest = pixel / p->out_w;
    const int32_t oy = rest % p->out_h, b = rest / p->out_h;
    const int32_t cin = p->in_c, k_w = p->k_w, row_bytes = k_w * cin, dil_w = p->dil_w, in_w = p->in_w;
    const int8_t zero_point = (int8_t)-p->input_offset;
    const int8_t *in_b = input + (size_t)b * p->in_h * in_w * cin;
    const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
    const int inside_w = dil_w == 1 && x0 >= 0 && x0 + k_w <= in_w;
    for (int32_t ky = 0; ky < p->k_h; ky++, col += row_bytes) {
        const int32_t iy = y0 + ky * p->dil_h;
        if (iy < 0 || iy >= p->in_h) {
            fill_bytes(col, zero_point, row_bytes);
            continue;
        }
        const int8_t *row = in_b + (size_t)iy * in_w * cin;
        if (inside_w) {
            copy_bytes(col, row + (size_t)x0 * cin, row_bytes);
            continue;
        }
        for (int32_t kx = 0; kx < k_w; kx++) {
            const int32_t ix = x0 + kx * dil_w;
            if (ix < 0 || ix >= in_w) {
                fill_bytes(col + kx * cin, zero_point, cin);
            } else {
                copy_bytes(col + kx * cin, row + (size_t)ix * cin, cin);
            }
        }
    }
}

#if TE_USE_MVE
/* The Helium path: two pixels' columns at a time (te_gemm_mve_pair), both written by im2col
 * before any of their outputs, into the scratch (sized for the DSP path's widened block and
 * column, at least two columns). */
static void conv_columns(const te_conv_params *p, const int8_t *input, int8_t *output, int8_t *scratch)
{
    const int32_t pixels = p->batches * p->out_h * p->out_w, cout = p->out_c;
    const int32_t window = p->k_h * p->k_w * p->in_c;
    int8_t *columns[2] = {scratch, scratch + window};
    te_gemm_mve gemm;
    te_gemm_mve_prepare(&gemm, p, window);
    for (int32_t px = 0; px < pixels; px += 2) {
        const int has_b = px + 1 < pixels;
        im2col(p, input, px, columns[0]);
        if (has_b) {
            im2col(p, input, px + 1, columns[1]);
        }
        int8_t *out_a = output + (size_t)px * cout;
        te_gemm_mve_pair(&gemm, p, columns[0], columns[has_b], out_a, has_b ? out_a + cout : out_a);
    }
}
#else
static TE_NO_LIBC_CALLS void conv_columns(const te_conv_params *p, const int8_t *input, int8_t *output,
                                          int8_t *scratch)
{
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t cin = p->in_c, k_h = p->k_h, row_bytes = p->k_w * cin, window = k_h * row_bytes;
    const int32_t in_w = p->in_w, in_h = p->in_h, stride = in_w * cin, cout = p->out_c;
    /* Windows clear of the padding (and undilated) are k_h rows copied as they are. */
    const int plain = p->dil_h == 1 && p->dil_w == 1;
    te_gemm g;
    te_gemm_init(&g, p, window);
    /* The widened block first (8-byte aligned for LDM and LDRD), then the column. */
    int16_t *cols = (int16_t *)(void *)scratch;
    int8_t *column = scratch + te_gemm_scratch_bytes(window, p->gemm_narrow);
    for (int32_t px = 0, block = g.max_block; px < pixels; px += block) {
        block = te_gemm_next_block(block, pixels - px);
        for (int32_t i = 0; i < block; i++) {
            const int32_t ox = (px + i) % p->out_w, rest = (px + i) / p->out_w;
            const int32_t oy = rest % p->out_h, b = rest / p->out_h;
            const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
            if (plain && y0 >= 0 && y0 + k_h <= in_h && x0 >= 0 && x0 + p->k_w <= in_w) {
                const int8_t *src = input + (((size_t)b * in_h + y0) * in_w + x0) * cin;
                for (int32_t ky = 0; ky < k_h; ky++, src += stride) {
                    copy_bytes(column + ky * row_bytes, src, row_bytes);
                }
            } else {
                im2col(p, input, px + i, column);
            }
            te_gemm_widen_column(column, window, cols, i, block, g.doubled);
        }
        te_gemm_block(&g, cols, block, output + (size_t)px * cout);
    }
}
#endif

static void conv_direct(const te_conv_params *p, const int8_t *input, int8_t *output)
{
    const int32_t zero_point = -p->input_offset;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_top;
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                for (int32_t oc = 0; oc < p->out_c; oc++) {
                    const int8_t *w = p->filter + (size_t)oc * p->k_h * p->k_w * p->in_c;
                    int32_t acc = p->bias[oc];
                    for (int32_t ky = 0; ky < p->k_h; ky++) {
                        const int32_t iy = y0 + ky * p->dil_h;
                        for (int32_t kx = 0; kx < p->k_w; kx++, w += p->in_c) {
                            const int32_t ix = x0 + kx * p->dil_w;
                            if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
                                for (int32_t ic = 0; ic < p->in_c; ic++) {
                                    acc = te_wrapping_add(acc, zero_point * w[ic]);
                                }
                                continue;
                            }
                            const int8_t *x = in_b + ((size_t)iy * p->in_w + ix) * p->in_c;
                            for (int32_t ic = 0; ic < p->in_c; ic++) {
                                acc = te_wrapping_add(acc, x[ic] * w[ic]);
                            }
                        }
                    }
                    acc = te_wrapping_add(te_requantize(acc, p->multiplier[oc], p->shift[oc]), p->output_offset);
                    output[(((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                        (int8_t)te_clamp(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

int32_t te_conv_s8_get_buffer_size(const te_conv_params *p)
{
    const int32_t window = p->k_h * p->k_w * p->in_c;
    return window <= TE_CONV_COLUMN_MAX ? te_gemm_scratch_bytes(window, p->gemm_narrow) + ((window + 7) & ~7) : 0;
}

te_status te_conv_s8(const te_conv_params *p, const int8_t *input, int8_t *output, void *scratch)
{
    if (p == NULL || input == NULL || output == NULL || p->bias == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    if (p->k_h * p->k_w * p->in_c <= TE_CONV_COLUMN_MAX) {
        if (scratch == NULL) {
            return TE_ERROR_ARGUMENT;
        }
        conv_columns(p, input, output, scratch);
    } else {
        conv_direct(p, input, output);
    }
    return TE_OK;
}
