/* The Helium (MVE) path of te_add_s8, where TE_USE_MVE; see add_s8_mve.c. */
#ifndef TE_ADD_S8_MVE_H
#define TE_ADD_S8_MVE_H

#include "tinyengine.h"

#if TE_USE_MVE
/* te_add_s8 on arguments it has checked. */
te_status te_add_s8_mve(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
#endif

#endif
