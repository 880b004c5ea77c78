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
 * w is the group's word of input bytes [from, from + 4). On the DSP path only what the assembly
 * leaves: groups of fewer than 4 rows (one a layer) and the last len % 4 bytes. */
static void dot_words(const int8_t *x, const int8_t *w, int32_t from, int32_t len, int32_t n, uint32_t *acc)
{
    for (int32_t i = from; i < len; i += 4) {
        const int32_t k = len - i < 4 ? len - i : 4;
        for (int32_t r = 0; r < n; r++, w += 4) {
            uint32_t a = acc[r];
            for (int32_t j = 0; j < k; j++) {
                a += (uint32_t)(x[i + j] * w[j]);
            }
            acc[r] = a;
        }
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

/* What the assembly reads and updates of a batch row, in memory (all 14 registers go to the dot
 * products). */
typedef struct {
    const int32_t *bias;   /* the next group's; advanced */
    uint32_t input_term;
    const int8_t *x, *x_end; /* the row's whole words */
    const int8_t *w_end;   /* the filter past the last group to take */
    uint32_t *acc;         /* the group's sums go here; NULL: the output stage below */
    int32_t out_stage[4];  /* multiplier, start_hi, right, act_min: one LDM */
    const int32_t *stage;  /* out_stage */
    int32_t act_max;
    int8_t *out;           /* advanced */
} fc_rows;

/* Groups of 4 rows from w to r->w_end, each: its sums from bias and input_term, plus x's whole
 * words (at least one) against the group's, one word a pass (unrolled twice, it saved 1
 * instruction in 42 for 84 bytes of flash). Then either the sums to r->acc, or the output stage
 * of te_single_round_apply with a zero start_lo (1 <= right <= TE_SINGLE_ROUND_MAX_RIGHT, one
 * multiplier): the high word of the product plus start_hi is that of the sum (the low word adds
 * nothing), so SMULL, ADD, ASR, the clamp and STRB, the 4 sums taking turns in r0. The sums in
 * r0-r3 and the weights in r8-r11: LDM takes ascending registers. */
static inline __attribute__((always_inline)) void fc_groups(fc_rows *r, const int8_t *w)
{
    register uint32_t a0 __asm__("r0");
    register uint32_t a1 __asm__("r1");
    register uint32_t a2 __asm__("r2");
    register uint32_t a3 __asm__("r3");
    register uint32_t w0 __asm__("r8");
    register uint32_t w1 __asm__("r9");
    register uint32_t w2 __asm__("r10");
    register uint32_t w3 __asm__("r11");
    uint32_t xe, xo, t, end;
    const int8_t *xp;
    __asm__ volatile("0:\n\t"
                     "ldr %[xe], %[bias]\n\t"
                     "ldm %[xe]!, {%[a0], %[a1], %[a2], %[a3]}\n\t"
                     "str %[xe], %[bias]\n\t"
                     "ldr %[xo], %[it]\n\t"
                     "add %[a0], %[xo]\n\t"
                     "add %[a1], %[xo]\n\t"
                     "add %[a2], %[xo]\n\t"
                     "add %[a3], %[xo]\n\t"
                     "ldr %[xp], %[x]\n\t"
                     "ldr %[end], %[x_end]\n"
                     "1:\n\t" FC_WORD
                     "cmp %[xp], %[end]\n\t"
                     "bne 1b\n\t"
                     "ldr %[t], %[acc]\n\t"
                     "cmp %[t], #0\n\t"
                     "beq 2f\n\t"
                     "stm %[t], {%[a0], %[a1], %[a2], %[a3]}\n\t"
                     "b 4f\n"
                     "2:\n\t"
                     "ldr %[t], %[stage]\n\t"
                     "ldm %[t], {%[w0], %[w1], %[w2], %[w3]}\n\t"
                     "ldr %[xe], %[act_max]\n\t"
                     "ldr %[xo], %[out]\n\t"
                     "mov %[end], #4\n"
                     "3:\n\t"
                     "smull %[t], %[xp], %[a0], %[w0]\n\t"
                     "add %[xp], %[w1]\n\t"
                     "asr %[xp], %[xp], %[w2]\n\t"
                     "cmp %[xp], %[w3]\n\t"
                     "it lt\n\t"
                     "movlt %[xp], %[w3]\n\t"
                     "cmp %[xp], %[xe]\n\t"
                     "it gt\n\t"
                     "movgt %[xp], %[xe]\n\t"
                     "strb %[xp], [%[xo]], #1\n\t"
                     "mov %[a0], %[a1]\n\t"
                     "mov %[a1], %[a2]\n\t"
                     "mov %[a2], %[a3]\n\t"
                     "subs %[end], #1\n\t"
                     "bne 3b\n\t"
                     "str %[xo], %[out]\n"
                     "4:\n\t"
                     "ldr %[t], %[w_end]\n\t"
                     "cmp %[wp], %[t]\n\t"
                     "bne 0b\n\t"
                     : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [xe] "=&r"(xe), [xo] "=&r"(xo),
                       [t] "=&r"(t), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3), [xp] "=&r"(xp),
                       [wp] "+&r"(w), [end] "=&r"(end), [bias] "+m"(r->bias), [out] "+m"(r->out)
                     : [it] "m"(r->input_term), [x] "m"(r->x), [x_end] "m"(r->x_end), [acc] "m"(r->acc),
                       [stage] "m"(r->stage), [act_max] "m"(r->act_max), [w_end] "m"(r->w_end)
                     : "cc", "memory");
}
#undef FC_ROW
#undef FC_WORD
#endif
/* The output stage: what it needs of te_fc_params, in one place. */
typedef struct {
    int32_t offset, act_min, act_max, per_channel;
    const int32_t *multiplier;
    const int8_t *shift;
    te_single_round q; /* the layer's, where per tensor */
} fc_out;

/* Outputs o to o + n - 1 from their sums acc[0..n-1] into out. Out of line, its constants stay
 * in registers. */
static void __attribute__((noinline)) fc_store(const fc_out *s, const uint32_t *acc, int32_t o, int32_t n,
                                               int8_t *out)
{
    const int32_t act_min = s->act_min, act_max = s->act_max;
    te_single_round q = s->q;
    for (int32_t r = 0; r < n; r++) {
        const int32_t c = s->per_channel ? o + r : 0, m = s->multiplier[c];
        if (s->per_channel) {
            q = te_single_round_prepare(s->shift[c], s->offset);
        }
        const int32_t v = q.right >= 0 ? te_single_round_apply(&q, (int32_t)acc[r], m)
                                       : te_wrapping_add(te_requantize_single_round((int32_t)acc[r], m, s->shift[c]),
                                                         s->offset);
        out[r] = (int8_t)te_clamp(v, act_min, act_max);
    }
}

te_status te_fully_connected_s8(const te_fc_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->bias == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    const int32_t len = p->in_features, outs = p->out_features;
    const int32_t *bias = p->bias;
    const fc_out store = {p->output_offset, p->act_min, p->act_max, p->per_channel, p->multiplier, p->shift,
                          te_single_round_prepare(p->shift[0], p->output_offset)};
    /* A row's bytes in the filter, padded to whole words. */
    const int32_t row_bytes = (len + 3) & ~3;
#if TE_GEMM_ASM
    const int32_t words = len >> 2;
    fc_rows rows = {.out_stage = {p->multiplier[0], store.q.start_hi, store.q.right, p->act_min},
                    .act_max = p->act_max};
    rows.stage = rows.out_stage;
    /* Whole rows' groups of 4 with the output stage in the assembly: one multiplier, whole words,
     * and a shift with a zero start_lo. */
    const int32_t whole = !p->per_channel && (len & 3) == 0 && store.q.right >= 1 ? outs & ~3 : 0;
#endif
    for (int32_t b = 0; b < p->batches; b++, input += len) {
        uint32_t input_term = 0;
        for (int32_t i = 0; p->filter_offset != 0 && i < len; i++) {
            input_term += (uint32_t)input[i] * (uint32_t)p->filter_offset;
        }
        const int8_t *w = p->filter;
#if TE_GEMM_ASM
        rows.input_term = input_term;
        rows.x = input;
        rows.x_end = input + 4 * words;
        rows.out = output;
#endif
        for (int32_t o = 0; o < outs;) {
            const int32_t n = outs - o < 4 ? outs - o : 4;
            uint32_t acc[4];
            int32_t from = 0;
#if TE_GEMM_ASM
            if (n == 4 && words > 0) {
                /* Either all the row's groups of 4 to the output (o is 0 then), or this group's
                 * sums to acc. */
                rows.bias = bias + o;
                rows.acc = o < whole ? NULL : acc;
                rows.w_end = w + (o < whole ? whole / 4 : 1) * 16 * words;
                fc_groups(&rows, w);
                if (o < whole) {
                    o = whole;
                    w = rows.w_end;
                    output += whole;
                    continue;
                }
                from = 4 * words;
            } else
#endif
            {
                for (int32_t r = 0; r < n; r++) {
                    acc[r] = (uint32_t)bias[o + r] + input_term;
                }
            }
            dot_words(input, w + n * from, from, len, n, acc);
            w += n * row_bytes;
            fc_store(&store, acc, o, n, output);
            output += n;
            o += n;
        }
    }
    return TE_OK;
}
