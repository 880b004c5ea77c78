/* Data-movement kernels: slices, splits, tiles, space/depth/batch rearrangements, min/max. */
#ifndef TE_DATA_MOVEMENT_H
#define TE_DATA_MOVEMENT_H

#include <stdint.h>

#include "tinyengine.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif
