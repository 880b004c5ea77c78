/* TinyEngine operator library: int8 kernels bit-exact with TFLite's reference kernels.
 *
 * Every kernel takes a parameter struct the generator fills at build time
 * (shapes, offsets, requantisation multipliers, packed weights) and the
 * activation pointers into the statically planned arena. Tensors are NHWC. */
#ifndef TINYENGINE_H
#define TINYENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TE_OK = 0,
    TE_ERROR_ARGUMENT = 1,
} te_status;

#define TE_MAX_DIMS 6

/* Kernels with a SIMD path take it where the core has the ARMv7E-M DSP extension
 * (TE_USE_DSP), unless the library is built with -DTE_PORTABLE: then every kernel runs
 * its portable C path, to measure what the SIMD paths gain (tinyengine bench --compare
 * portable) or to rule them out when chasing a wrong result. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(TE_PORTABLE)
#define TE_USE_DSP 1
#else
#define TE_USE_DSP 0
#endif

/* Kernels with a Helium path take it where the core has the integer M-Profile Vector Extension
 * (TE_USE_MVE: Cortex-M55, M85 with -mfloat-abi other than soft), in place of their DSP path;
 * TE_PORTABLE rules it out too. */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1) && !defined(TE_PORTABLE)
#define TE_USE_MVE 1
#else
#define TE_USE_MVE 0
#endif

/* CONV_2D and DEPTHWISE_CONV_2D. Output channel o of a depthwise layer reads
 * input channel o / depth_multiplier. */
/* Sizes and offsets in int16 (the generator refuses larger: lowering/conv.py): a model holds one
 * of these a convolution, in flash. */
typedef struct {
    const int8_t *filter;  /* conv: [out_c][k_h][k_w][in_c]; depthwise: [k_h][k_w][out_c] */
    const int32_t *bias;   /* [out_c] or NULL */
    const int32_t *multiplier; /* [out_c] */
    const int8_t *shift;       /* [out_c], in [-31, 30] */
    /* te_conv_1x1_s8 and te_conv_s8's GEMM: the channels that do not take its fused rows' output
     * stage (te_gemm_s8.h te_gemm_requant_applies), ascending, then -1; NULL where there are none
     * or where the grouped rows are faster (lowering/conv.py gemm_rows). */
    const int16_t *gemm_rows;
    int16_t batches;
    int16_t in_h, in_w, in_c;
    int16_t out_h, out_w, out_c;
    int16_t k_h, k_w;
    int16_t stride_h, stride_w;
    int16_t dil_h, dil_w;
    int16_t pad_top, pad_left;
    int16_t depth_multiplier;
    int16_t input_offset;  /* -(input zero point) */
    int16_t output_offset; /* output zero point */
    int16_t act_min, act_max;
    /* te_conv_1x1_s8 and te_conv_s8's GEMM: non-zero for blocks of at most 4 pixels (a smaller
     * scratch, where blocks of 6 would raise the arena: lowering/conv.py), else up to 6. */
    int16_t gemm_narrow;
    /* The same GEMM: non-zero where `bias` holds the folded bias doubled and the kernel doubles
     * the inputs, so that its output stage takes SMMLAR (te_gemm_s8.h te_gemm_requant_doubled;
     * the generator proves the doubled sums fit int32: lowering/conv.py gemm_doubled). */
    int16_t gemm_double;
} te_conv_params;

/* `bias` folded as for te_conv_1x1_s8 (over the whole window; padding taps count as the
 * input zero point). `scratch`: te_conv_s8_get_buffer_size(p) bytes, 8-byte aligned (NULL
 * where that is 0). See conv_s8.c. */
te_status te_conv_s8(const te_conv_params *p, const int8_t *input, int8_t *output, void *scratch);
int32_t te_conv_s8_get_buffer_size(const te_conv_params *p);
te_status te_depthwise_conv_s8(const te_conv_params *p, const int8_t *input, int8_t *output);

/* DEPTHWISE_CONV_2D with depth multiplier 1, dilation 1 and kernels up to 7 columns wide (any
 * height, stride and padding). The generator lays out `blocks` in the order the kernel reads
 * it; see depthwise_conv_s8_fast.c. TE_DW_SIGNED and TE_DW_CLAMP hold for the whole layer: every
 * block is requantised in C. The others flag channels whose shift the DSP path's assembly does
 * not take (it takes -23 to -2): `blocks` then lists the blocks holding them, and only those are
 * requantised in C. */
#define TE_DW_SIGNED 1 /* output_offset > act_min: rounding needs the accumulator's sign */
#define TE_DW_CLAMP 2  /* [act_min, act_max] narrower than int8 */
#define TE_DW_EXACT 4  /* a shift outside [-23, 0] (left, or beyond te_requant_fast): te_requantize */
#define TE_DW_SHIFT_1 8 /* a shift -1 (right 0): te_requant_fast's other start value; the wide
                           blocks and the band take it */
#define TE_DW_SHIFT_0 16 /* a shift 0 (right -1): no rounding shift; the band takes it */
typedef struct {
    const int32_t *blocks; /* per 4 channels: biases, int8 weight rows, multipliers, shifts */
    /* int16 as te_conv_params' (the generator refuses larger) */
    int16_t batches, in_h, in_w, channels, out_h, out_w;
    int16_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    int16_t input_offset, output_offset, act_min, act_max, flags;
    int16_t band; /* non-zero: the scratch holds the band (input rows widened), not the wide blocks */
} te_dw_params;

/* `scratch`: te_depthwise_conv_s8_fast_get_buffer_size(p) bytes, 8-byte aligned, or NULL (it
 * only saves instructions: the DSP path widens there the weights of whole windows, or with
 * `band` the input rows an output row reads). */
te_status te_depthwise_conv_s8_fast(const te_dw_params *p, const int8_t *input, int8_t *output, void *scratch);
int32_t te_depthwise_conv_s8_fast_get_buffer_size(const te_dw_params *p);

/* 1x1, stride 1, unpadded CONV_2D; `bias` must be folded with the input offset
 * (bias[oc] + input_offset * sum of filter row oc); `scratch`: te_conv_1x1_s8_get_buffer_size(p)
 * bytes, 8-byte aligned. See conv_1x1_s8.c. */
te_status te_conv_1x1_s8(const te_conv_params *p, const int8_t *input, int8_t *output, void *scratch);
int32_t te_conv_1x1_s8_get_buffer_size(const te_conv_params *p);

/* FULLY_CONNECTED: output[b][o] = requantised(bias[o] + sum_i in[b][i] * w[o][i]
 * + filter_offset * sum_i in[b][i]), `bias` folded by the generator with the input offset:
 * TFLite's bias + sum_i (input_offset * (w[o][i] + filter_offset)). See fully_connected_s8.c. */
typedef struct {
    int32_t batches, in_features, out_features;
    int32_t filter_offset, output_offset;
    int32_t act_min, act_max;
    int32_t per_channel; /* 0: multiplier[0]/shift[0] for every output */
    const int8_t *filter; /* word-aligned, in the DSP loop's order (fully_connected_s8.c) */
    const int32_t *bias;  /* [out_features], folded */
    const int32_t *multiplier;
    const int8_t *shift;
} te_fc_params;

te_status te_fully_connected_s8(const te_fc_params *p, const int8_t *input, int8_t *output);

/* AVERAGE_POOL_2D and MAX_POOL_2D (padding cells are excluded, as in TFLite). */
typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} te_pool_params;

te_status te_avg_pool_s8(const te_pool_params *p, const int8_t *input, int8_t *output);
te_status te_max_pool_s8(const te_pool_params *p, const int8_t *input, int8_t *output);

/* ADD and MUL with broadcasting: the generator merges dimensions and gives each
 * input's element strides over the output shape (0 where it broadcasts). */
typedef struct {
    int32_t ndim;
    int32_t shape[TE_MAX_DIMS];
    int32_t stride1[TE_MAX_DIMS];
    int32_t stride2[TE_MAX_DIMS];
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift; /* ADD only */
    int32_t input1_multiplier, input1_shift; /* ADD only */
    int32_t input2_multiplier, input2_shift; /* ADD only */
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} te_binary_params;

/* `scratch`: te_add_s8_get_buffer_size(p) bytes, 4-byte aligned, for a table that speeds up
 * the common case (NULL runs it without). See add_s8.c. */
te_status te_add_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output,
                    void *scratch);
int32_t te_add_s8_get_buffer_size(const te_binary_params *p);
te_status te_mul_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/* PAD: the output filled with pad_value, the input copied at offset `before`. */
typedef struct {
    int32_t ndim;
    int32_t in_shape[TE_MAX_DIMS];
    int32_t out_shape[TE_MAX_DIMS];
    int32_t before[TE_MAX_DIMS];
    int32_t pad_value;
} te_pad_params;

te_status te_pad_s8(const te_pad_params *p, const int8_t *input, int8_t *output);

/* CONCATENATION of inputs with identical quantisation: `outer` rows, each the
 * inputs' rows of inner_size[i] bytes one after another. */
typedef struct {
    int32_t num_inputs, outer;
    const int32_t *inner_size;
} te_concat_params;

te_status te_concatenation_s8(const te_concat_params *p, const int8_t *const *inputs, int8_t *output);

/* RESIZE_NEAREST_NEIGHBOR: source row and column per output row and column,
 * computed by the generator with TFLite's float arithmetic. */
typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    const int32_t *src_y; /* [out_h] */
    const int32_t *src_x; /* [out_w] */
} te_resize_params;

te_status te_resize_nearest_s8(const te_resize_params *p, const int8_t *input, int8_t *output);

/* MEAN and SUM over a set of axes, as reference_ops::QuantizedMeanOrSum: the
 * zero-point-free sum of `count` elements requantised with a multiplier that, for
 * MEAN, folds in 1/count. The walk visits the kept dims first and the reduced dims
 * last, so each output reduces `count` consecutive elements of the walk. */
typedef struct {
    int32_t ndim;
    int32_t shape[TE_MAX_DIMS];
    int32_t in_stride[TE_MAX_DIMS];
    int32_t count;
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift; /* input_scale / (output_scale * count); SUM: input_scale / output_scale */
} te_mean_params;

te_status te_mean_s8(const te_mean_params *p, const int8_t *input, int8_t *output);

/* QUANTIZE int8 -> int8 (requantisation). */
typedef struct {
    int32_t size;
    int32_t input_offset, output_offset;
    int32_t multiplier, shift;
} te_requantize_params;

te_status te_requantize_s8(const te_requantize_params *p, const int8_t *input, int8_t *output);

/* Copy for reshapes whose input and output cannot share storage. */
typedef struct {
    int32_t size;
} te_copy_params;

te_status te_copy_s8(const te_copy_params *p, const int8_t *input, int8_t *output);

/* Copy `rows` rows of `row_bytes` between buffers with different row strides: places a
 * finished patch of a feature map into the full map (patch-based inference). */
typedef struct {
    int32_t rows, row_bytes;
    int32_t src_stride, dst_stride;
} te_copy_rows_params;

te_status te_copy_rows_s8(const te_copy_rows_params *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

/* Kernel families declared in their own headers. */
#include "te_activation.h"
#include "te_data_movement.h"

#endif
