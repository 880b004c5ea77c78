/* Row-major walk over an N-d shape that keeps up to two strided input offsets. */
#ifndef TE_NDINDEX_H
#define TE_NDINDEX_H

#include "tinyengine.h"

/* Walks may be deeper than TE_MAX_DIMS: a TILE view pairs every dimension with its repeat. */
#define TE_NDINDEX_MAX_DIMS 8

typedef struct {
    int32_t ndim;
    const int32_t *shape;
    const int32_t *stride1;
    const int32_t *stride2; /* may be NULL */
    int32_t index[TE_NDINDEX_MAX_DIMS];
    size_t offset1, offset2;
} te_ndindex;

static inline void te_ndindex_init(te_ndindex *it, int32_t ndim, const int32_t *shape,
                                   const int32_t *stride1, const int32_t *stride2)
{
    it->ndim = ndim;
    it->shape = shape;
    it->stride1 = stride1;
    it->stride2 = stride2;
    for (int32_t d = 0; d < TE_NDINDEX_MAX_DIMS; d++) {
        it->index[d] = 0;
    }
    it->offset1 = 0;
    it->offset2 = 0;
}

static inline size_t te_shape_size(int32_t ndim, const int32_t *shape)
{
    size_t n = 1;
    for (int32_t d = 0; d < ndim; d++) {
        n *= (size_t)shape[d];
    }
    return n;
}

static inline void te_ndindex_next(te_ndindex *it)
{
    for (int32_t d = it->ndim - 1; d >= 0; d--) {
        it->index[d]++;
        it->offset1 += (size_t)it->stride1[d];
        if (it->stride2 != NULL) {
            it->offset2 += (size_t)it->stride2[d];
        }
        if (it->index[d] < it->shape[d]) {
            return;
        }
        it->offset1 -= (size_t)it->stride1[d] * (size_t)it->shape[d];
        if (it->stride2 != NULL) {
            it->offset2 -= (size_t)it->stride2[d] * (size_t)it->shape[d];
        }
        it->index[d] = 0;
    }
}

#endif
