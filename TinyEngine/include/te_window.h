/* A sliding window clipped to the input, shared by the window kernels (depthwise, pooling). */
#ifndef TE_WINDOW_H
#define TE_WINDOW_H

#include <stdint.h>

/* The taps of a window k wide starting at input coordinate `start` that fall inside
 * [0, size): from *first on, as many as returned (0 if none). */
static inline int32_t te_window_clip(int32_t start, int32_t k, int32_t size, int32_t *first)
{
    const int32_t lo = start < 0 ? -start : 0;
    const int32_t hi = size - start < k ? size - start : k;
    *first = lo;
    return hi > lo ? hi - lo : 0;
}

#endif
