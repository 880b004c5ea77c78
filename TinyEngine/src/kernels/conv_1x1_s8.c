/* Pointwise (1x1, stride 1, unpadded) CONV_2D as a GEMM over pixels: two pixels by two
 * output channels per block, so each loaded input and weight is used twice.
 *
 * Contract: `bias` is folded by the generator, bias[oc] + input_offset * sum(filter[oc]),
 * so the inner loop is a plain int8 dot product (what SMLAD computes on the DSP path);
 * input_offset is not read. Equal to te_conv_s8 in two's-complement int32 arithmetic. */
#include <string.h>

#include "te_fixedpoint.h"
#include "tinyengine.h"

#if TE_USE_DSP
#include <arm_acle.h>

/* GCC 12's <arm_acle.h> has no __ror; this compiles to one ROR. */
static inline uint32_t ror8(uint32_t x)
{
    return (x >> 8) | (x << 24);
}

static inline uint32_t load4(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Four int8 products summed into two accumulator pairs with SXTB16 + SMLAD. */
#define TE_DOT4(acc, x_even, x_odd, w)                                   \
    do {                                                                 \
        const uint32_t w_even_ = __sxtb16(w);                            \
        const uint32_t w_odd_ = __sxtb16(ror8(w));                   \
        (acc) = (int32_t)__smlad(x_even, w_even_, (uint32_t)(acc));      \
        (acc) = (int32_t)__smlad(x_odd, w_odd_, (uint32_t)(acc));        \
    } while (0)
#endif

static inline int8_t requantize(const te_conv_params *p, int32_t acc, int32_t oc)
{
    acc = te_wrapping_add(acc, p->bias[oc]);
    acc = te_wrapping_add(te_requantize(acc, p->multiplier[oc], p->shift[oc]), p->output_offset);
    return (int8_t)te_clamp(acc, p->act_min, p->act_max);
}

/* Dot products of pixels a and b with filter rows m and n (b, n may equal a, m). */
static inline void dot_2x2(const int8_t *a, const int8_t *b, const int8_t *m, const int8_t *n, int32_t len,
                           int32_t *am, int32_t *an, int32_t *bm, int32_t *bn)
{
    int32_t s_am = 0, s_an = 0, s_bm = 0, s_bn = 0;
    int32_t i = 0;
#if TE_USE_DSP
    for (; i + 4 <= len; i += 4) {
        const uint32_t xa = load4(a + i), xb = load4(b + i);
        const uint32_t xa_even = __sxtb16(xa), xa_odd = __sxtb16(ror8(xa));
        const uint32_t xb_even = __sxtb16(xb), xb_odd = __sxtb16(ror8(xb));
        const uint32_t wm = load4(m + i), wn = load4(n + i);
        TE_DOT4(s_am, xa_even, xa_odd, wm);
        TE_DOT4(s_an, xa_even, xa_odd, wn);
        TE_DOT4(s_bm, xb_even, xb_odd, wm);
        TE_DOT4(s_bn, xb_even, xb_odd, wn);
    }
#endif
    for (; i < len; i++) {
        const int32_t xa = a[i], xb = b[i], wm = m[i], wn = n[i];
        s_am += xa * wm;
        s_an += xa * wn;
        s_bm += xb * wm;
        s_bn += xb * wn;
    }
    *am = s_am;
    *an = s_an;
    *bm = s_bm;
    *bn = s_bn;
}

te_status te_conv_1x1_s8(const te_conv_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->bias == NULL || p->k_h != 1 || p->k_w != 1) {
        return TE_ERROR_ARGUMENT;
    }
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t cin = p->in_c, cout = p->out_c;
    for (int32_t px = 0; px < pixels; px += 2) {
        const int32_t has_b = px + 1 < pixels;
        const int8_t *a = input + (size_t)px * cin;
        const int8_t *b = has_b ? a + cin : a;
        int8_t *out_a = output + (size_t)px * cout;
        int8_t *out_b = out_a + cout;
        for (int32_t oc = 0; oc < cout; oc += 2) {
            const int32_t has_n = oc + 1 < cout;
            const int8_t *m = p->filter + (size_t)oc * cin;
            const int8_t *n = has_n ? m + cin : m;
            int32_t am, an, bm, bn;
            dot_2x2(a, b, m, n, cin, &am, &an, &bm, &bn);
            out_a[oc] = requantize(p, am, oc);
            if (has_n) {
                out_a[oc + 1] = requantize(p, an, oc + 1);
            }
            if (has_b) {
                out_b[oc] = requantize(p, bm, oc);
                if (has_n) {
                    out_b[oc + 1] = requantize(p, bn, oc + 1);
                }
            }
        }
    }
    return TE_OK;
}
