/* FULLY_CONNECTED, int8, per tensor or per channel, as LiteRT's reference kernel computes it
 * (its requantisation rounds once, unlike the convolutions': te_single_round_apply).
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
 * one LDM for the 4 rows' words, then per row two SXTB16 and two SMLAD, and the loop's compare
 * and branch: 22 instructions per 16 MACs. */
#include "te_fixedpoint.h"
#include "te_gemm_s8.h"
#include "tinyengine.h"

/* What the output stage and the assembly read and update, in one place (in memory for the
 * assembly: all 14 registers go to its dot products). */
typedef struct {
    int32_t stage[4];      /* multiplier, start_hi, right, act_min of one te_single_round: one LDM */
    const int32_t *stage_p; /* stage */
    int32_t act_max, per_channel, offset, len;
    const int32_t *multiplier;
    const int8_t *shift;
    const int32_t *bias;   /* the next group's; advanced by the assembly */
    uint32_t input_term;
    const int8_t *x, *x_end; /* the batch row, its end in whole words */
    const int8_t *w_end;   /* the filter past the last group the assembly takes */
    uint32_t *acc;         /* the assembly's sums go here; NULL: its output stage */
    int8_t *out;           /* advanced by the assembly's output stage */
} fc_state;

/* Outputs o to o + n - 1 of batch row x, in C: the group of fewer than 4 rows, and on the DSP
 * path the groups of 4 whose output stage the assembly leaves, their sums of x's first `from`
 * bytes (whole words) in acc. Rare or small on the DSP path: optimised for size. w is the
 * group's filter, s->bias its bias. */
static void __attribute__((cold, noinline)) fc_rows_c(const fc_state *s, const int8_t *x, const int8_t *w,
                                                     int32_t o, int32_t n, int32_t from, uint32_t *acc)
{
    for (int32_t r = 0; from == 0 && r < n; r++) {
        acc[r] = (uint32_t)s->bias[r] + s->input_term;
    }
    /* The rest of the bytes: byte i of the row in word i / 4, the group's words side by side. */
    for (int32_t i = from; i < s->len; i++) {
        for (int32_t r = 0; r < n; r++) {
            acc[r] += (uint32_t)(x[i] * w[i / 4 * 4 * n + 4 * r + (i & 3)]);
        }
    }
    for (int32_t r = 0; r < n; r++) {
        const int32_t c = s->per_channel ? o + r : 0;
        const te_single_round q = te_single_round_prepare(s->shift[c], s->offset);
        s->out[r] = (int8_t)te_clamp(te_single_round_apply(&q, (int32_t)acc[r], s->multiplier[c]), s->stage[3],
                                     s->act_max);
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

/* Groups of 4 rows from w to s->w_end, each: its sums from bias and input_term plus x's whole
 * words (at least one) against the group's, one word a pass (unrolled twice, it saved 1
 * instruction in 42 for 84 bytes of flash). Then either the sums to s->acc, or the output stage
 * of te_single_round_apply where start_lo and the offset after the shift are 0 and right >= 1 (one
 * multiplier): the high word of the product plus start_hi is that of the sum, so SMULL, ADD,
 * ASR, the clamp and STRB, the 4 sums taking turns in r0. The sums in r0-r3 and the weights in
 * r8-r11: LDM takes ascending registers, and faults on an unaligned address (the generator
 * aligns the filter: lowering/fully_connected.py). */
static inline __attribute__((always_inline)) void fc_groups(fc_state *s, const int8_t *w)
{
    TE_LDM_REGISTERS(a0, a1, a2, a3, w0, w1, w2, w3);
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
                       [wp] "+&r"(w), [end] "=&r"(end), [bias] "+m"(s->bias), [out] "+m"(s->out)
                     : [it] "m"(s->input_term), [x] "m"(s->x), [x_end] "m"(s->x_end), [acc] "m"(s->acc),
                       [stage] "m"(s->stage_p), [act_max] "m"(s->act_max), [w_end] "m"(s->w_end)
                     : "cc", "memory");
}
#undef FC_ROW
#undef FC_WORD
#endif

te_status te_fully_connected_s8(const te_fc_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->bias == NULL) {
        return TE_ERROR_ARGUMENT;
    }
    const int32_t len = p->in_features, outs = p->out_features, words = len >> 2;
    const te_single_round q = te_single_round_prepare(p->shift[0], p->output_offset);
    fc_state s;
    s.stage[0] = p->multiplier[0];
    s.stage[1] = q.start_hi;
    s.stage[2] = q.right;
    s.stage[3] = p->act_min;
    s.stage_p = s.stage;
    s.act_max = p->act_max;
    s.per_channel = p->per_channel;
    s.offset = p->output_offset;
    s.multiplier = p->multiplier;
    s.shift = p->shift;
    s.len = len;
    /* The groups of 4 whose output stage the assembly takes: all, where one multiplier takes
     * SMULL, ADD and ASR, and the rows are whole words. */
    const int32_t whole = !p->per_channel && q.right >= 1 && q.offset == 0 && (len & 3) == 0 ? outs & ~3 : 0;
    /* A row's bytes in the filter, padded to whole words. */
    const int32_t row_bytes = 4 * ((len + 3) >> 2);
    for (int32_t b = 0; b < p->batches; b++, input += len) {
        s.input_term = 0;
        for (int32_t i = 0; p->filter_offset != 0 && i < len; i++) {
            s.input_term += (uint32_t)input[i] * (uint32_t)p->filter_offset;
        }
        s.x = input;
        s.x_end = input + 4 * words;
        s.out = output;
        const int8_t *w = p->filter;
        for (int32_t o = 0; o < outs;) {
            const int32_t n = outs - o < 4 ? outs - o : 4;
            uint32_t acc[4];
            int32_t from = 0;
            s.bias = p->bias + o;
            if (TE_GEMM_ASM && n == 4 && words > 0) {
                /* All the row's groups of 4 to the output (o is 0), or this group's sums. */
                s.acc = o < whole ? NULL : acc;
                s.w_end = w + (o < whole ? whole / 4 : 1) * 16 * words;
#if TE_GEMM_ASM
                fc_groups(&s, w);
#endif
                if (o < whole) {
                    o = whole;
                    w = s.w_end;
                    continue;
                }
                from = 4 * words;
            }
            fc_rows_c(&s, input, w, o, n, from, acc);
            w += n * row_bytes;
            s.out += n;
            o += n;
        }
        output = s.out;
    }
    return TE_OK;
}
