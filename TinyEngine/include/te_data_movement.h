/* Data-movement kernels: slices, splits, tiles, space/depth/batch rearrangements, min/max. */
#ifndef TE_DATA_MOVEMENT_H
#define TE_DATA_MOVEMENT_H

#include <stdint.h>

#include "tinyengine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TE_COPY_MAX_DIMS 8

/* Any affine view of the input (TRANSPOSE, SLICE, STRIDED_SLICE, SPLIT, SPLIT_V, UNPACK,
 * TILE, DEPTH_TO_SPACE, SPACE_TO_DEPTH): the output in row-major order over `shape`, the
 * element at index i reading input[in_offset + sum(i[d] * in_stride[d])]. A stride
 * is 0 where TILE repeats and negative where STRIDED_SLICE runs backwards. */
typedef struct {
    int32_t ndim; /* 1..TE_COPY_MAX_DIMS */
    int32_t shape[TE_COPY_MAX_DIMS];
    int32_t in_stride[TE_COPY_MAX_DIMS];
    int32_t in_offset;
} te_strided_copy_params;

te_status te_strided_copy_s8(const te_strided_copy_params *p, const int8_t *input, int8_t *output);

/* GATHER with constant indices: for each batch b, outer row o and index c, `inner`
 * bytes from input row ((b * outer + o) * axis_size + indices[b * coords + c]). */
typedef struct {
    int32_t batches, outer, axis_size, coords, inner;
    const int32_t *indices; /* [batches][coords], each in [0, axis_size) */
} te_gather_params;

te_status te_gather_s8(const te_gather_params *p, const int8_t *input, int8_t *output);

/* SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND on NHWC (3-D NHC as W = 1). The space side
 * is [batches][space_h][space_w][channels]; the batch side is
 * [block_h * block_w * batches][batch_h][batch_w][channels], batch-side batch
 * (sh * block_w + sw) * batches + n holding the pixels with row offset sh and column
 * offset sw in their block. pad_top/pad_left are SPACE_TO_BATCH_ND's paddings (those
 * pixels get pad_value) or BATCH_TO_SPACE_ND's crops. */
typedef struct {
    int32_t batches, space_h, space_w, channels;
    int32_t block_h, block_w;
    int32_t batch_h, batch_w;
    int32_t pad_top, pad_left;
    int32_t pad_value;
} te_space_batch_params;

te_status te_space_to_batch_nd_s8(const te_space_batch_params *p, const int8_t *input, int8_t *output);
te_status te_batch_to_space_nd_s8(const te_space_batch_params *p, const int8_t *input, int8_t *output);

/* MAXIMUM and MINIMUM with broadcasting, inputs and output sharing one quantisation
 * (the raw int8 values compare as the real ones do): strides as in te_binary_params. */
typedef struct {
    int32_t ndim;
    int32_t shape[TE_MAX_DIMS];
    int32_t stride1[TE_MAX_DIMS];
    int32_t stride2[TE_MAX_DIMS];
} te_minmax_params;

te_status te_maximum_s8(const te_minmax_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
te_status te_minimum_s8(const te_minmax_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/* REDUCE_MAX and REDUCE_MIN: the walk (as in te_mean_params) visits the kept dims first
 * and the reduced dims last, so each output reduces `count` consecutive elements. */
typedef struct {
    int32_t ndim;
    int32_t shape[TE_MAX_DIMS];
    int32_t in_stride[TE_MAX_DIMS];
    int32_t count;
} te_reduce_params;

te_status te_reduce_max_s8(const te_reduce_params *p, const int8_t *input, int8_t *output);
te_status te_reduce_min_s8(const te_reduce_params *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif
