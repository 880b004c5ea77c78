/* FULLY_CONNECTED, int8, per tensor or per channel, as LiteRT's reference kernel computes it
 * (its requantisation rounds once, unlike the convolutions').
 *
 * TFLite sums (x + input_offset) * (w + filter_offset) in int32. Expanded, that is
 * sum x * w + filter_offset * sum x + input_offset * sum (w + filter_offset): the last term is
 * the generator's (folded into `bias`), the middle one is computed once per batch row (most
 * int8 models have filter_offset 0), and the dot products are plain int8 ones. Every step wraps
 * like TFLite's int32 arithmetic, so the sum is the same.
 *
 * The filter is laid out in the order the DSP loop reads it (lowering/fully_connected.py
 * fc_filter_layout): output rows in groups of 4 (the last group the 1 to 3 rows left), each row
 * zero-padded to whole words of 4 input bytes, and a group's rows' words of one input word side
 * by side. So the loop of a group of 4 rows takes, per input word, one LDR, two SXTB16 for it,
 * one LDM for the 4 rows' words, then per row two SXTB16 and two SMLAD: 20 instructions per 16
 * MACs, 21 with the loop's compare and branch over two words. */
#include "te_fixedpoint.h"
#include "te_gemm_s8.h"
#include "tinyengine.h"

/* acc[r] += the group's rows r < n dotted with x, from input byte `from` (a multiple of 4) to len;
 * w is the group's word of input bytes [from, from + 4). The last word reads only len - from
 * input bytes. */
static void dot_words(const int8_t *x, const int8_t *w, int32_t from, int32_t len, int32_t n, uint32_t *acc)
{
    for (int32_t i = from; i < len; i += 4) {
        const int32_t k = len - i < 4 ? len - i : 4;
#if TE_USE_DSP
        uint32_t xv = 0;
        for (int32_t j = 0; j < k; j++) {
            xv |= (uint32_t)(uint8_t)x[i + j] << (8 * j);
        }
        const uint32_t xe = __sxtb16(xv), xo = te_sxtb16_ror8(xv);
        for (int32_t r = 0; r < n; r++, w += 4) {
            const uint32_t v = te_load4(w);
            acc[r] = (uint32_t)__smlad(xo, te_sxtb16_ror8(v), __smlad(xe, __sxtb16(v), (int32_t)acc[r]));
        }
#else
        for (int32_t r = 0; r < n; r++, w += 4) {
            uint32_t a = acc[r];
            for (int32_t j = 0; j < k; j++) {
                a += (uint32_t)(x[i + j] * w[j]);
            }
            acc[r] = a;
        }
#endif
    }
}

#if TE_GEMM_ASM
/* One word of x against a group of 4 rows: the 4 rows' words in w0-w3 (one LDM), x's even and
 * odd bytes widened into xe and xo, t a temporary. */
#define FC_WORD                                          \
    "ldr %[xe], [%[xp]], #4\n\t"                         \
    "ldm %[wp]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"       \
    "sxtb16 %[xo], %[xe], ror #8\n\t"                    \
    "sxtb16 %[xe], %[xe]\n\t"                            \
    FC_ROW("a0", "w0") FC_ROW("a1", "w1") FC_ROW("a2", "w2") FC_ROW("a3", "w3")
#define FC_ROW(a, w)                                     \
    "sxtb16 %[t], %[" w "]\n\t"                          \
    "sxtb16 %[" w "], %[" w "], ror #8\n\t"              \
    "smlad %[" a "], %[xe], %[t], %[" a "]\n\t"          \
    "smlad %[" a "], %[xo], %[" w "], %[" a "]\n\t"

/* acc[0..3] += the group of 4 rows dotted with x's first `words` words (words >= 1). Two words
 * a pass, the first pass entered at its second word when words is odd. */
static void dot4_words(const int8_t *x, const int8_t *w, int32_t words, uint32_t *acc)
{
    register uint32_t w0 __asm__("r8");
    register uint32_t w1 __asm__("r9");
    register uint32_t w2 __asm__("r10");
    register uint32_t w3 __asm__("r11");
    uint32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], xe, xo, t = (uint32_t)words & 1u;
    const int8_t *xp = x, *end = x + 4 * words;
    __asm__ volatile("cmp %[t], #0\n\t"
                     "bne 2f\n"
                     "1:\n\t" FC_WORD "2:\n\t" FC_WORD
                     "cmp %[xp], %[end]\n\t"
                     "bne 1b\n\t"
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xe] "=&r"(xe), [xo] "=&r"(xo),
                       [t] "+&r"(t), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3), [xp] "+r"(xp),
                       [wp] "+r"(w)
                     : [end] "r"(end)
                     : "cc", "memory");
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#undef FC_ROW
#undef FC_WORD
#endif

te_status te_fully_connected_s8(const te_fc_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->bias == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    const int32_t len = p->in_features, outs = p->out_features;
    /* A row's bytes in the filter, padded to whole words. */
    const int32_t row_bytes = (len + 3) & ~3;
    te_single_round q = te_single_round_prepare(p->shift[0], p->output_offset);
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *x = input + (size_t)b * len;
        uint32_t input_term = 0;
        if (p->filter_offset != 0) {
            for (int32_t i = 0; i < len; i++) {
                input_term += (uint32_t)x[i];
            }
            input_term *= (uint32_t)p->filter_offset;
        }
        const int8_t *w = p->filter;
        for (int32_t o = 0; o < outs; o += 4) {
            const int32_t n = outs - o < 4 ? outs - o : 4;
            uint32_t acc[4];
            for (int32_t r = 0; r < n; r++) {
                acc[r] = (uint32_t)p->bias[o + r] + input_term;
            }
            int32_t from = 0;
#if TE_GEMM_ASM
            if (n == 4 && len >= 4) {
                from = len & ~3;
                dot4_words(x, w, len >> 2, acc);
            }
#endif
            dot_words(x, w + n * from, from, len, n, acc);
            w += n * row_bytes;
            for (int32_t r = 0; r < n; r++) {
                const int32_t c = p->per_channel ? o + r : 0, acc_r = (int32_t)acc[r];
                if (p->per_channel) {
                    q = te_single_round_prepare(p->shift[c], p->output_offset);
                }
                const int32_t v = q.right >= 0 ? te_single_round_apply(&q, acc_r, p->multiplier[c])
                                               : te_wrapping_add(te_requantize_single_round(acc_r, p->multiplier[c],
                                                                                            p->shift[c]),
                                                                 p->output_offset);
                output[(size_t)b * outs + o + r] = (int8_t)te_clamp(v, p->act_min, p->act_max);
            }
        }
    }
    return TE_OK;
}
