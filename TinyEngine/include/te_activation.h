/* Activation kernels: SOFTMAX, LOG_SOFTMAX and table-driven unary functions. */
#ifndef TE_ACTIVATION_H
#define TE_ACTIVATION_H

#include <stdint.h>

#include "tinyengine.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif
