/* The Helium (MVE) path of te_depthwise_conv_s8_fast, in optimised builds where TE_USE_MVE; see
 * depthwise_conv_s8_mve.c. */
#ifndef TE_DEPTHWISE_MVE_H
#define TE_DEPTHWISE_MVE_H

#include "tinyengine.h"

/* The assembly takes 14 general registers: optimised builds only (an -O0 build keeps a frame
 * pointer and runs te_depthwise_conv_s8_fast's C path). */
#if TE_USE_MVE && defined(__OPTIMIZE__)
#define TE_DW_MVE 1
#else
#define TE_DW_MVE 0
#endif

#if TE_DW_MVE
/* Whether te_depthwise_conv_s8_mve takes the layer: kernels up to 7 rows (the fast kernel's
 * columns), windows whose byte offsets fit the 16-bit gathers. */
int te_depthwise_mve_applies(const te_dw_params *p);

/* te_depthwise_conv_s8_fast on arguments it has checked, for a layer it applies to. */
te_status te_depthwise_conv_s8_mve(const te_dw_params *p, const int8_t *input, int8_t *output);
#endif

#endif
