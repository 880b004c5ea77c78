/* DEPTHWISE_CONV_2D, int8, depth multiplier 1, dilation 1: bit-exact with
 * tflite::reference_integer_ops::DepthwiseConvPerChannel, faster than te_depthwise_conv_s8.
 *
 * Output pixels are walked in row-major order and each pixel's channels in blocks of 4: every
 * input byte is read no later, relative to the writes, than in te_depthwise_conv_s8, so the
 * same memory overlap holds. A pixel's window is clipped to the input once, so border pixels
 * run the same loop as interior ones without a test per tap; 3x3, 5x5 and 7x7 windows clear
 * of the padding run fully unrolled.
 *
 * Generator contract (platformio_tinyengine/lowering/depthwise.py):
 * - filter: per block of 4 channels, per tap (row-major), two words of two int16 weights:
 *   channels 0 (low half) and 2, then 1 and 3 (zero past the last channel), whose halves line
 *   up with SXTB16's lanes (weights of channels with a left shift are scaled, see
 *   dw_requantize);
 * - requant: per channel, the words of DW_* below (see dw_requantize). */
#include <string.h>

#include "te_fixedpoint.h"
#include "tinyengine.h"

#if TE_USE_DSP
#include <arm_acle.h>
#endif

/* The per-pixel code is inlined into each window size's call so constant sizes unroll and the
 * layer's constants stay in registers (GCC would not inline four copies at -O2 by itself). */
#if defined(__GNUC__)
#define DW_INLINE static inline __attribute__((always_inline))
#else
#define DW_INLINE static inline
#endif

enum { DW_NUDGE = 0, DW_MULT = 4, DW_SHIFT = 5, DW_BIAS = 6, DW_WORDS = 8 };

/* te_requantize(acc, mult, shift), gemmlowp's two roundings, as one 64-bit multiply-accumulate
 * and one shift. With s = SRDHM(acc, mult) = floor((acc*mult + 2^30) / 2^31) (gemmlowp's
 * truncating form of the nudge equals this floor) and e = -shift >= 1:
 *   rounding_divide_by_pot(s, e) = floor((s + 2^(e-1) - [acc < 0]) / 2^e)
 *                                = floor((acc*mult + 2^30 + 2^(30+e) - [acc < 0] * 2^31) / 2^(31+e))
 * (s < 0 only if acc < 0, and for acc < 0 with s = 0 both forms give 0): the high word of
 * acc*mult + nudge[acc < 0], shifted right by DW_SHIFT = e - 1. With shift = left >= 0,
 *   SRDHM(acc << left, mult) = floor(((acc << (left + 1)) * mult + 2^31) / 2^32):
 * the generator scales that channel's weights and bias by 2^(left + 1) (only where no
 * accumulator can overflow), both nudges are 2^31 and DW_SHIFT is 0. mult is never
 * INT32_MIN, so SRDHM never saturates. */
DW_INLINE int32_t dw_requantize(int32_t acc, const int32_t *r)
{
    const int32_t *n = r + DW_NUDGE + ((uint32_t)acc >> 31) * 2;
    const int64_t nudge = (int64_t)(((uint64_t)(uint32_t)n[1] << 32) | (uint32_t)n[0]);
    return (int32_t)(((int64_t)acc * r[DW_MULT] + nudge) >> 32) >> r[DW_SHIFT];
}

/* The layer's constants, copied once per call into locals: the compiler need not reload them
 * after every int8 store. */
typedef struct {
    int32_t channels, taps, row_stride;
    int32_t input_offset, output_offset, act_min, act_max;
    const int32_t *filter;
    const int32_t *requant;
} dw_layer;

DW_INLINE int32_t dw_output(const dw_layer *l, int32_t acc, const int32_t *r)
{
    return te_wrapping_add(dw_requantize(acc, r), l->output_offset);
}

/* The weight of channel j of a block from a tap's two words (channels 0 and 2, 1 and 3). */
static inline int32_t weight(const int32_t *tap, int32_t j)
{
    return (int32_t)((uint32_t)tap[j & 1] << (16 - 16 * (j >> 1))) >> 16;
}

/* Channel c of one pixel, scalar: window rows [0, kh) and columns [0, kw) from `in` (channel 0
 * of the window's first pixel) and from tap `tap0` of the filter, whose rows are `k_w` taps
 * apart. The products are summed before the bias: a bias near INT32_MIN (dead channels) must
 * wrap as in TFLite, not overflow. */
DW_INLINE int8_t dw_channel(const dw_layer *l, const int8_t *in, int32_t kh, int32_t kw, int32_t k_w, int32_t tap0,
                            int32_t c)
{
    const int32_t *r = l->requant + c * DW_WORDS;
    const int32_t *w = l->filter + ((size_t)(c >> 2) * l->taps + tap0) * 2;
    int32_t sum = 0;
    for (int32_t ky = 0; ky < kh; ky++) {
        for (int32_t kx = 0; kx < kw; kx++) {
            sum += (in[ky * l->row_stride + kx * l->channels + c] + l->input_offset) *
                   weight(w + (ky * k_w + kx) * 2, c & 3);
        }
    }
    const int32_t y = dw_output(l, te_wrapping_add(sum, r[DW_BIAS]), r);
    return (int8_t)te_clamp(y, l->act_min, l->act_max);
}

#if TE_USE_DSP
static inline uint32_t load4(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* GCC 12's <arm_acle.h> has no __ror; this compiles to one ROR. */
static inline uint32_t ror8(uint32_t x)
{
    return (x >> 8) | (x << 24);
}

/* Channels c..c+3 of one pixel. SXTAB16 sign-extends two input bytes and adds the input offset
 * to both in one instruction; SMLABB/SMLATT multiply-accumulate each half. The four results
 * are saturated to int8, packed into a word and clamped together (SSUB8 + SEL per bound). */
DW_INLINE void dw_block4(const dw_layer *l, const int8_t *in, int32_t kh, int32_t kw, int32_t k_w, int32_t tap0,
                         int32_t c, int8_t *out)
{
    const uint32_t offset2 = ((uint32_t)l->input_offset & 0xffffu) * 0x10001u;
    const int32_t *w = l->filter + ((size_t)(c >> 2) * l->taps + tap0) * 2;
    const int32_t *r = l->requant + c * DW_WORDS;
    /* SMLABB and SMLATT wrap like TFLite's int32 arithmetic: the bias may start the sums. */
    int32_t a0 = r[DW_BIAS], a1 = r[DW_WORDS + DW_BIAS], a2 = r[2 * DW_WORDS + DW_BIAS];
    int32_t a3 = r[3 * DW_WORDS + DW_BIAS];
    /* Rows stay a loop: unrolled too, GCC would keep a pointer per tap across blocks and spill. */
    const int8_t *x = in + c;
    for (int32_t ky = 0; ky < kh; ky++, x += l->row_stride, w += k_w * 2) {
#pragma GCC unroll 7
        for (int32_t kx = 0; kx < kw; kx++) {
            const uint32_t xv = load4(x + kx * l->channels);
            const int32_t even = (int32_t)__sxtab16(offset2, xv), odd = (int32_t)__sxtab16(offset2, ror8(xv));
            const int32_t w02 = w[kx * 2], w13 = w[kx * 2 + 1];
            a0 = __smlabb(even, w02, a0);
            a2 = __smlatt(even, w02, a2);
            a1 = __smlabb(odd, w13, a1);
            a3 = __smlatt(odd, w13, a3);
        }
    }
    const uint32_t y0 = (uint8_t)__ssat(dw_output(l, a0, r), 8);
    const uint32_t y1 = (uint8_t)__ssat(dw_output(l, a1, r + DW_WORDS), 8);
    const uint32_t y2 = (uint8_t)__ssat(dw_output(l, a2, r + 2 * DW_WORDS), 8);
    const uint32_t y3 = (uint8_t)__ssat(dw_output(l, a3, r + 3 * DW_WORDS), 8);
    uint32_t packed = y0 | y1 << 8 | y2 << 16 | y3 << 24;
    const uint32_t lo = ((uint32_t)l->act_min & 0xffu) * 0x01010101u, hi = ((uint32_t)l->act_max & 0xffu) * 0x01010101u;
    (void)__ssub8(packed, lo);
    packed = __sel(packed, lo);
    (void)__ssub8(hi, packed);
    packed = __sel(packed, hi);
    memcpy(out + c, &packed, 4);
}
#endif

/* Every channel of one output pixel. */
DW_INLINE void dw_pixel(const dw_layer *l, const int8_t *in, int32_t kh, int32_t kw, int32_t k_w, int32_t tap0,
                        int8_t *out)
{
    int32_t c = 0;
#if TE_USE_DSP
    for (; c + 4 <= l->channels; c += 4) {
        dw_block4(l, in, kh, kw, k_w, tap0, c, out);
    }
#endif
    for (; c < l->channels; c++) {
        out[c] = dw_channel(l, in, kh, kw, k_w, tap0, c);
    }
}

/* The taps of a window starting at input coordinate `start` that fall inside [0, size):
 * from *first on, as many as returned (0 if none). */
static inline int32_t clip(int32_t start, int32_t k, int32_t size, int32_t *first)
{
    const int32_t lo = start < 0 ? -start : 0;
    const int32_t hi = size - start < k ? size - start : k;
    *first = lo;
    return hi > lo ? hi - lo : 0;
}

te_status te_depthwise_conv_s8_fast(const te_dw_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->filter == NULL || p->requant == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    const dw_layer l = {
        .channels = p->channels, .taps = p->k_h * p->k_w, .row_stride = p->in_w * p->channels,
        .input_offset = p->input_offset, .output_offset = p->output_offset, .act_min = p->act_min,
        .act_max = p->act_max, .filter = p->filter, .requant = p->requant,
    };
    const int32_t k_h = p->k_h, k_w = p->k_w, in_h = p->in_h, in_w = p->in_w, out_h = p->out_h, out_w = p->out_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w, pad_top = p->pad_top, pad_left = p->pad_left;
    const int32_t channels = p->channels, square = k_h == k_w ? k_h : 0;
    int8_t *out = output;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * in_h * in_w * channels;
        for (int32_t oy = 0; oy < out_h; oy++) {
            int32_t ky0;
            const int32_t kh = clip(oy * stride_h - pad_top, k_h, in_h, &ky0);
            const int32_t iy = oy * stride_h - pad_top + ky0;
            for (int32_t ox = 0; ox < out_w; ox++, out += channels) {
                int32_t kx0;
                const int32_t kw = clip(ox * stride_w - pad_left, k_w, in_w, &kx0);
                const int32_t ix = ox * stride_w - pad_left + kx0;
                if (kh == 0 || kw == 0) {
                    /* A window entirely in the padding (patch-based tiles): the bias alone. */
                    dw_pixel(&l, in_b, 0, 0, k_w, 0, out);
                    continue;
                }
                const int8_t *in = in_b + ((size_t)iy * in_w + ix) * channels;
                const int32_t whole = kh == k_h && kw == k_w;
                if (whole && square == 3) {
                    dw_pixel(&l, in, 3, 3, 3, 0, out);
                } else if (whole && square == 5) {
                    dw_pixel(&l, in, 5, 5, 5, 0, out);
                } else if (whole && square == 7) {
                    dw_pixel(&l, in, 7, 7, 7, 0, out);
                } else {
                    dw_pixel(&l, in, kh, kw, k_w, ky0 * k_w + kx0, out);
                }
            }
        }
    }
    return TE_OK;
}
