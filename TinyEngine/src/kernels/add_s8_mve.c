/* The Helium (MVE) path of te_add_s8 (add_s8.c): four elements per step in int32 lanes, each
 * requantisation as te_mve_requantize_n (te_fixedpoint_mve.h, bit for bit te_requantize, as
 * te_requant_apply is), the rows of the innermost dimension walked as te_add_s8 walks them.
 * Each step reads its four elements of both inputs before it writes their four outputs, so an
 * output over its input (memory/overlap.py elementwise_gap) stays safe. */
#include "te_add_s8_mve.h"

#include "te_fixedpoint_mve.h"
#include "te_ndindex.h"

#if TE_USE_MVE
/* One requantisation's constants. */
typedef struct {
    int32_t multiplier, left, right;
} requant_n;

static requant_n requant_for(int32_t multiplier, int32_t shift)
{
    const requant_n q = {multiplier, shift > 0 ? shift : 0, shift > 0 ? 0 : shift};
    return q;
}

typedef struct {
    requant_n q1, q2, qo;
    int32x4_t scale;        /* 2^left_shift */
    int32_t off1, off2;     /* the input offsets times 2^left_shift */
    int32_t output_offset, act_min, act_max;
    uint32x4_t lanes1, lanes2; /* byte offsets of the four elements of a step (gathered rows) */
} add_layer;

/* Four elements from x (the lanes of `lanes`; full: all four), contiguous or gathered. */
static inline __attribute__((always_inline)) int32x4_t load4(const int8_t *x, uint32x4_t offsets, int contiguous,
                                                            mve_pred16_t lanes, int full)
{
    if (contiguous) {
        return full ? vldrbq_s32(x) : vldrbq_z_s32(x, lanes);
    }
    return full ? vldrbq_gather_offset_s32(x, offsets) : vldrbq_gather_offset_z_s32(x, offsets, lanes);
}

static inline __attribute__((always_inline)) void add4(const add_layer *l, const int8_t *a, const int8_t *b,
                                                      int8_t *out, int contiguous, mve_pred16_t lanes, int full)
{
    /* (x + offset) << left_shift, wrapping as te_add_s8's shift: x * 2^left + offset * 2^left. */
    const int32x4_t xa = vmlasq_n_s32(load4(a, l->lanes1, contiguous, lanes, full), l->scale, l->off1);
    const int32x4_t xb = vmlasq_n_s32(load4(b, l->lanes2, contiguous, lanes, full), l->scale, l->off2);
    const int32x4_t sum = vaddq_s32(te_mve_requantize_n(xa, l->q1.multiplier, l->q1.left, l->q1.right),
                                    te_mve_requantize_n(xb, l->q2.multiplier, l->q2.left, l->q2.right));
    int32x4_t y = te_mve_requantize_n(sum, l->qo.multiplier, l->qo.left, l->qo.right);
    y = vminq_s32(vmaxq_s32(vaddq_n_s32(y, l->output_offset), vdupq_n_s32(l->act_min)), vdupq_n_s32(l->act_max));
    if (full) {
        vstrbq_s32(out, y);
    } else {
        vstrbq_p_s32(out, y, lanes);
    }
}

/* One row of n outputs; steps: the inputs' element strides (contiguous: both 1). */
static inline __attribute__((always_inline)) void add_row(const add_layer *layer, const int8_t *a, const int8_t *b,
                                                         int8_t *out, int32_t n, int32_t step1, int32_t step2,
                                                         int contiguous)
{
    /* Read once: the int8 stores may alias *layer as far as the compiler knows. */
    const add_layer l = *layer;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4, a += 4 * step1, b += 4 * step2, out += 4) {
        add4(&l, a, b, out, contiguous, 0xFFFF, 1);
    }
    if (i < n) {
        add4(&l, a, b, out, contiguous, vctp32q((uint32_t)(n - i)), 0);
    }
}

static void __attribute__((noinline)) add_row_contiguous(const add_layer *l, const int8_t *a, const int8_t *b,
                                                         int8_t *out, int32_t n)
{
    add_row(l, a, b, out, n, 1, 1, 1);
}

static void __attribute__((noinline)) add_row_gathered(const add_layer *l, const int8_t *a, const int8_t *b,
                                                       int8_t *out, int32_t n, int32_t step1, int32_t step2)
{
    add_row(l, a, b, out, n, step1, step2, 0);
}

te_status te_add_s8_mve(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const int32_t inner = p->ndim - 1, n = p->shape[inner];
    const int32_t step1 = p->stride1[inner], step2 = p->stride2[inner];
    const int32_t scale = (int32_t)(1u << p->left_shift);
    const add_layer l = {
        .q1 = requant_for(p->input1_multiplier, p->input1_shift),
        .q2 = requant_for(p->input2_multiplier, p->input2_shift),
        .qo = requant_for(p->output_multiplier, p->output_shift),
        .scale = vdupq_n_s32(scale),
        .off1 = (int32_t)((uint32_t)p->input1_offset * (uint32_t)scale),
        .off2 = (int32_t)((uint32_t)p->input2_offset * (uint32_t)scale),
        .output_offset = p->output_offset, .act_min = p->act_min, .act_max = p->act_max,
        .lanes1 = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)step1),
        .lanes2 = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)step2),
    };
    const size_t rows = te_shape_size(inner, p->shape);
    te_ndindex it;
    te_ndindex_init(&it, inner, p->shape, p->stride1, p->stride2);
    for (size_t r = 0; r < rows; r++, output += n) {
        if (step1 == 1 && step2 == 1) {
            add_row_contiguous(&l, input1 + it.offset1, input2 + it.offset2, output, n);
        } else {
            add_row_gathered(&l, input1 + it.offset1, input2 + it.offset2, output, n, step1, step2);
        }
        te_ndindex_next(&it);
    }
    return TE_OK;
}
#endif
