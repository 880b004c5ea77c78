/* Pointwise (1x1, stride 1, unpadded) CONV_2D as a GEMM over blocks of pixels, and the GEMM
 * core te_conv_s8 shares (te_gemm_s8.h).
 *
 * Contract: `bias` is folded by the generator, bias[oc] + input_offset * sum(filter[oc]),
 * so the inner loop is a plain int8 dot product (what SMLAD computes on the DSP path);
 * input_offset is not read. Equal to te_conv_s8 in two's-complement int32 arithmetic.
 * `filter` holds the rows [out_c][in_c], each zero-padded to a multiple of 4 bytes
 * (lowering/conv.py gemm_filter_layout). in_c is at most 4 * TE_GEMM_MAX_CHUNKS.
 * Access order (memory/overlap.py pixel_block_gap): blocks of te_gemm_init's max_block pixels in
 * order (then te_gemm_next_block's for the pixels left), each block's input read whole before
 * any of its outputs is written. */
#include "te_gemm_s8.h"
#include "te_gemm_s8_mve.h"
#include "tinyengine.h"

/* Layers with the range of int8 whose channels take te_gemm_requant, all but those
 * p->gemm_rows lists, run fused rows on the DSP path (gemm_fused: each row's sums go from its
 * dot products to its output stage in registers; the listed channels in runs of their own
 * stage where of right -1, else one at a time in C). The others, and the portable path, run
 * groups of rows: the dot products of a group's rows go to a buffer of 4 x GROUP sums on the
 * stack, then through the output stage; two loops, each with all the registers. */
#define GROUP 16

/* The assembly (TE_GEMM_ASM, te_gemm_s8.h) needs up to 14 free registers and LDM/STM of fixed
 * ones: optimised Thumb-2 builds (an -O0 build keeps a frame pointer and runs the portable
 * loops on the same scratch). Its reads (scratch, filter, constants) and writes (sums, outputs)
 * are declared by a "memory" clobber, and it is volatile: the output stage has no other
 * result. */

#if TE_GEMM_ASM
/* One chunk (4 input channels) of a row against the block's 6, 4, 2 or 1 pixels: the weight word
 * widened into its even (we) and odd (w) pairs, SMLAD with each pixel's two scratch words. */
#define GEMM_WEIGHTS                 \
    "ldr %[w], [%[wp]], #4\n\t"      \
    "sxtb16 %[we], %[w]\n\t"         \
    "sxtb16 %[w], %[w], ror #8\n\t"
/* One pixel's two SMLAD into sum A, starting from sum S (the row's bias for its first chunk). */
#define GEMM_PIXEL_FROM(A, X, Y, S)                 \
    "smlad %[" A "], %[" X "], %[we], %[" S "]\n\t" \
    "smlad %[" A "], %[" Y "], %[w], %[" A "]\n\t"
#define GEMM_LDM4 "ldm %[xp]!, {%[x0], %[x1], %[x2], %[x3]}\n\t"
#define GEMM_BODY4_FROM(S0, S1, S2, S3)                                                                     \
    GEMM_LDM4 GEMM_WEIGHTS GEMM_PIXEL_FROM("a0", "x0", "x1", S0) GEMM_PIXEL_FROM("a1", "x2", "x3", S1) GEMM_LDM4 \
        GEMM_PIXEL_FROM("a2", "x0", "x1", S2) GEMM_PIXEL_FROM("a3", "x2", "x3", S3)
#define GEMM_BODY2_FROM(S0, S1) \
    GEMM_LDM4 GEMM_WEIGHTS GEMM_PIXEL_FROM("a0", "x0", "x1", S0) GEMM_PIXEL_FROM("a1", "x2", "x3", S1)
#define GEMM_BODY1_FROM(S0) "ldrd %[x0], %[x1], [%[xp]], #8\n\t" GEMM_WEIGHTS GEMM_PIXEL_FROM("a0", "x0", "x1", S0)
/* Six pixels: one weight word for 12 SMLAD (18 instructions per 24 MACs). */
#define GEMM_BODY6_FROM(S0, S1, S2, S3, S4, S5)                                                              \
    GEMM_BODY4_FROM(S0, S1, S2, S3) GEMM_LDM4 GEMM_PIXEL_FROM("a4", "x0", "x1", S4)                          \
        GEMM_PIXEL_FROM("a5", "x2", "x3", S5)
#define GEMM_BODY6 GEMM_BODY6_FROM("a0", "a1", "a2", "a3", "a4", "a5")
#define GEMM_BODY4 GEMM_BODY4_FROM("a0", "a1", "a2", "a3")
#define GEMM_BODY2 GEMM_BODY2_FROM("a0", "a1")
#define GEMM_BODY1 GEMM_BODY1_FROM("a0")

/* Once per call, before the rows (temporaries: the sums): the rows' `rest` = chunks - 1 chunks
 * after the first take ceil(rest / K) passes (iters) of GEMM_CHUNKS' loop of K = 2^LOG bodies,
 * the first pass entered past (K - rest % K) % K of them: `entry`, that body's address with the
 * Thumb bit (the loop's end when rest is 0). */
#define GEMM_ENTRY(K, LOG)                         \
    "ldr %[a0], %[rest]\n\t"                       \
    "adds %[a1], %[a0], #" K " - 1\n\t"            \
    "lsrs %[a1], %[a1], #" LOG "\n\t"              \
    "str %[a1], %[iters]\n\t"                      \
    "adr.w %[a2], 3f\n\t"                          \
    "adr.w %[a3], 4f\n\t"                          \
    "sub %[a3], %[a3], %[a2]\n\t"                  \
    "negs %[a0], %[a0]\n\t"                        \
    "and %[a0], %[a0], #" K " - 1\n\t"             \
    "mla %[a2], %[a0], %[a3], %[a2]\n\t"           \
    "cmp %[a1], #0\n\t"                            \
    "bne 1f\n\t"                                   \
    "adr.w %[a2], 2f\n"                            \
    "1:\n\t"                                       \
    "orr %[a2], %[a2], #1\n\t"                     \
    "str %[a2], %[entry]\n\t"

/* A row's dot products with the block's pixels, from its bias in n: the first chunk (FIRST)
 * accumulates onto the bias, the others (BODY, which sets no flags) run in the loop of K bodies
 * (BODY and MORE, K - 1 more) GEMM_ENTRY prepared, jumped into (LDR pc): two instructions a row
 * besides SUBS and BNE per K chunks. */
#define GEMM_CHUNKS(FIRST, BODY, MORE)           \
    FIRST "ldr %[n], %[iters]\n\t"               \
    "ldr pc, %[entry]\n"                         \
    "3:\n\t" BODY "4:\n\t" MORE                  \
    "subs %[n], %[n], #1\n\t"                    \
    "bne 3b\n"                                   \
    "2:\n\t"
/* The loops' K - 1 further bodies: loops of 4 bodies, and of 8 for the fused rows of blocks of 4
 * (most of the work). */
#define GEMM_MORE4 GEMM_BODY4 GEMM_BODY4 GEMM_BODY4
#define GEMM_MORE4_8 GEMM_MORE4 GEMM_BODY4 GEMM_MORE4
#define GEMM_MORE6_8 GEMM_BODY6 GEMM_BODY6 GEMM_BODY6 GEMM_BODY6 GEMM_BODY6 GEMM_BODY6 GEMM_BODY6
#define GEMM_MORE2 GEMM_BODY2 GEMM_BODY2 GEMM_BODY2
#define GEMM_MORE1 GEMM_BODY1 GEMM_BODY1 GEMM_BODY1

/* Rows until the bias pointer reaches `end`, each row's sums stored at *accp (STORE). */
#define GEMM_ROWS(CHUNKS, K, LOG, STORE)                                                 \
    GEMM_ENTRY(K, LOG) "0:\n\t"                                                          \
    "ldr %[n], [%[bp]], #4\n\t"                                                          \
    "ldr %[xp], %[cols]\n\t" CHUNKS                                                      \
    "ldr %[xp], %[accp]\n\t" STORE "str %[xp], %[accp]\n\t"                              \
    "ldr %[n], %[end]\n\t"                                                               \
    "cmp %[bp], %[n]\n\t"                                                                \
    "bne 0b"

/* te_gemm_requant of X (multiplier M, start_hi H, right R), saturated into HI (LO: scratch). */
#define GEMM_REQUANT_IN(X, LO, HI, H, M, R)            \
    "and %[" LO "], %[" X "], #0x80000000\n\t"         \
    "orr %[" LO "], %[" LO "], #0x40000000\n\t"        \
    "sub %[" HI "], %[" H "], %[" X "], lsr #31\n\t"   \
    "smlal %[" LO "], %[" HI "], %[" X "], %[" M "]\n\t" \
    "asr %[" HI "], %[" HI "], %[" R "]\n\t"           \
    "ssat %[" HI "], #8, %[" HI "]\n\t"
#define GEMM_REQUANT(X) GEMM_REQUANT_IN(X, "lo", "hi", "h", "m", "r")

/* Per row: its `block` sums (LOAD), the channel's multiplier, right = ~shift and start_hi,
 * then the outputs (REQUANT: pixel i at op + i * cout), until the multiplier pointer reaches
 * `end`. */
#define GEMM_STORE_ROWS(LOAD, REQUANT)                  \
    "0:\n\t" LOAD                                       \
    "ldr %[m], [%[mp]], #4\n\t"                         \
    "ldrsb %[r], [%[sp8]], #1\n\t"                      \
    "ldr %[h], %[odd]\n\t"                              \
    "mvn %[r], %[r]\n\t"                                \
    "lsl %[h], %[h], %[r]\n\t"                          \
    "asr %[h], %[h], #1\n\t" REQUANT                    \
    "add %[op], %[op], #1\n\t"                          \
    "ldr %[x1], %[end]\n\t"                             \
    "cmp %[mp], %[x1]\n\t"                              \
    "bne 0b"
#define GEMM_OUT4                                                                                   \
    GEMM_REQUANT("x0") "strb %[hi], [%[op]]\n\t" GEMM_REQUANT("x1") "strb %[hi], [%[op], %[cout]]\n\t" \
    "add %[x0], %[op], %[cout], lsl #1\n\t" GEMM_REQUANT("x2") "strb %[hi], [%[x0]]\n\t"               \
    GEMM_REQUANT("x3") "strb %[hi], [%[x0], %[cout]]\n\t"
#define GEMM_OUT2 \
    GEMM_REQUANT("x0") "strb %[hi], [%[op]]\n\t" GEMM_REQUANT("x1") "strb %[hi], [%[op], %[cout]]\n\t"
#define GEMM_OUT1 GEMM_REQUANT("x0") "strb %[hi], [%[op]]\n\t"

/* te_gemm_requant_doubled of the doubled sum X (multiplier M, start S, right R; the sign term
 * where SIGN is "1"), saturated into V. */
#define GEMM_DOUBLED_IN(X, V, S, M, R, SIGN)           \
    "smmlar %[" V "], %[" X "], %[" M "], %[" S "]\n\t" \
    ".if " SIGN "\n\t"                                \
    "add %[" V "], %[" V "], %[" X "], asr #31\n\t"    \
    ".endif\n\t"                                      \
    "asr %[" V "], %[" V "], %[" R "]\n\t"             \
    "ssat %[" V "], #8, %[" V "], asr #1\n\t"

/* A channel of right -1 (te_gemm_s8.h te_gemm_unshifted_applies): te_srdhm(x, M) + offset, saturated
 * into V, from the doubled sum X by SMMLAR onto the offset S; or (WIDE, sums not doubled) from X
 * by SMLAL onto the 64-bit offset 2^31 + 2^30 (LO, HI: LO_INIT, S), then bits 31..62. */
#define GEMM_UNSHIFTED_IN(X, V, S, M) \
    "smmlar %[" V "], %[" X "], %[" M "], %[" S "]\n\t" \
    "ssat %[" V "], #8, %[" V "]\n\t"
#define GEMM_UNSHIFTED_WIDE_IN(X, LO, HI, LO_INIT, S, M)         \
    "mov %[" LO "], %[" LO_INIT "]\n\t"                           \
    "mov %[" HI "], %[" S "]\n\t"                                 \
    "smlal %[" LO "], %[" HI "], %[" X "], %[" M "]\n\t"          \
    "lsl %[" HI "], %[" HI "], #1\n\t"                            \
    "orr %[" HI "], %[" HI "], %[" LO "], lsr #31\n\t"            \
    "ssat %[" HI "], #8, %[" HI "]\n\t"

/* The fused rows: each row's sums go from its dot products to its output stage in registers.
 * Once per call, before the rows (temporaries: the sums), `entry`: the address (Thumb bit set)
 * of the body past which a row's rest = chunks - 1 chunks after its first start, body
 * (K - rest % K) % K of K = 2^LOG bodies, or label 2 (the row's end) where rest is 0. TWO
 * (blocks of 6): a copy of the bodies that runs once (labels 3, 4) for rows of fewer than K
 * such chunks, and a loop until xp reaches the columns' end (13, 14) for the others.
 * TWO_COUNTED (blocks of 4): the same, the loop's passes counted in n. COUNTED (blocks of 2
 * and 1): the counted loop alone. Then `stage_pc`, the address of the output stage g->stage
 * selects (labels 5, 6, 7 for TE_GEMM_STAGE_PLAIN, _DOUBLED and _DOUBLED_NO_SIGN), which each
 * row jumps to (one LDR pc a row: one copy of the dot products serves the three stages). */
#define GEMM_FUSED_ENTRY_TWO(K)                    \
    "ldr %[a0], %[rest]\n\t"                       \
    "adr.w %[a2], 3f + 1\n\t"                          \
    "adr.w %[a3], 4f + 1\n\t"                          \
    "cmp %[a0], #" K "\n\t"                        \
    "itt ge\n\t"                                   \
    "adrge.w %[a2], 13f + 1\n\t"                       \
    "adrge.w %[a3], 14f + 1\n\t" GEMM_FUSED_ENTRY(K)
/* TWO_COUNTED: the copy that runs once, and the loop counted in n, whose rows enter through a
 * trampoline at label 15 that loads the count and jumps to `entry2`. */
#define GEMM_FUSED_ENTRY_TWO_COUNTED(K, LOG)       \
    "ldr %[a0], %[rest]\n\t"                       \
    "adds %[a1], %[a0], #" K " - 1\n\t"            \
    "lsrs %[a1], %[a1], #" LOG "\n\t"              \
    "str %[a1], %[iters]\n\t"                      \
    "adr.w %[a2], 3f + 1\n\t"                          \
    "adr.w %[a3], 4f + 1\n\t"                          \
    "cmp %[a0], #" K "\n\t"                        \
    "itt ge\n\t"                                   \
    "adrge.w %[a2], 13f + 1\n\t"                       \
    "adrge.w %[a3], 14f + 1\n\t"                       \
    "sub %[a3], %[a3], %[a2]\n\t"                  \
    "negs %[a1], %[a0]\n\t"                        \
    "and %[a1], %[a1], #" K " - 1\n\t"             \
    "mla %[a2], %[a1], %[a3], %[a2]\n\t"           \
    "str %[a2], %[entry2]\n\t"                     \
    "cmp %[a0], #" K "\n\t"                        \
    "it ge\n\t"                                    \
    "adrge.w %[a2], 15f + 1\n\t" GEMM_FUSED_ENTRY_TAIL
#define GEMM_FUSED_ENTRY_COUNTED(K, LOG)           \
    "ldr %[a0], %[rest]\n\t"                       \
    "adds %[a1], %[a0], #" K " - 1\n\t"            \
    "lsrs %[a1], %[a1], #" LOG "\n\t"              \
    "str %[a1], %[iters]\n\t"                      \
    "adr.w %[a2], 13f + 1\n\t"                         \
    "adr.w %[a3], 14f + 1\n\t" GEMM_FUSED_ENTRY(K)
#define GEMM_FUSED_ENTRY(K)                        \
    "sub %[a3], %[a3], %[a2]\n\t"                  \
    "negs %[a1], %[a0]\n\t"                        \
    "and %[a1], %[a1], #" K " - 1\n\t"             \
    "mla %[a2], %[a1], %[a3], %[a2]\n\t" GEMM_FUSED_ENTRY_TAIL
#define GEMM_FUSED_ENTRY_TAIL                      \
    "cmp %[a0], #0\n\t"                            \
    "it eq\n\t"                                    \
    "adreq.w %[a2], 2f + 1\n\t"                        \
    "str %[a2], %[entry]\n\t"                      \
    "ldr %[a0], %[stage]\n\t"                      \
    "adr.w %[a1], 11f\n\t"                          \
    "ldr %[a1], [%[a1], %[a0], lsl #2]\n\t"        \
    "str %[a1], %[stage_pc]\n\t"
/* Each row (from label 0: ROW loads the bias, FIRST accumulates the first chunk onto it): its
 * chunks, EPILOGUE (the row's multiplier, right and start value), a jump to its output stage.
 * TWO: the copy of the bodies that runs once, and the loop until xp reaches the columns' end. */
#define GEMM_FUSED_TWO(K, ROW, FIRST, BODY, MORE, EPILOGUE)                         \
    GEMM_FUSED_ENTRY_TWO(K) "0:\n\t" ROW FIRST "ldr pc, %[entry]\n"                  \
    "3:\n\t" BODY "4:\n\t" MORE "2:\n\t" EPILOGUE "ldr pc, %[stage_pc]\n"             \
    "13:\n\t" BODY "14:\n\t" MORE                                                    \
    "ldr %[x0], %[cols_end]\n\t"                                                     \
    "cmp %[xp], %[x0]\n\t"                                                           \
    "bne 13b\n\t" EPILOGUE "ldr pc, %[stage_pc]\n"
#define GEMM_FUSED_TWO_COUNTED(K, LOG, ROW, FIRST, BODY, MORE, EPILOGUE)            \
    GEMM_FUSED_ENTRY_TWO_COUNTED(K, LOG) "0:\n\t" ROW FIRST "ldr pc, %[entry]\n"     \
    "3:\n\t" BODY "4:\n\t" MORE "2:\n\t" EPILOGUE "ldr pc, %[stage_pc]\n"             \
    "15:\n\t"                                                                        \
    "ldr %[n], %[iters]\n\t"                                                          \
    "ldr pc, %[entry2]\n"                                                             \
    "13:\n\t" BODY "14:\n\t" MORE                                                    \
    "subs %[n], %[n], #1\n\t"                                                        \
    "bne 13b\n\t" EPILOGUE "ldr pc, %[stage_pc]\n"
/* COUNTED: the loop alone, its passes counted in n. */
#define GEMM_FUSED_COUNTED(K, LOG, ROW, FIRST, BODY, MORE, EPILOGUE)                \
    GEMM_FUSED_ENTRY_COUNTED(K, LOG) "0:\n\t" ROW FIRST "ldr %[n], %[iters]\n\t"     \
    "ldr pc, %[entry]\n"                                                             \
    "13:\n\t" BODY "14:\n\t" MORE                                                    \
    "subs %[n], %[n], #1\n\t"                                                        \
    "bne 13b\n"                                                                      \
    "2:\n\t" EPILOGUE "ldr pc, %[stage_pc]\n"
/* The rows (DOT) and their output stages: OUT with the requantisation PLAIN, DOUBLED, NO_SIGN,
 * UNSHIFTED (right -1, doubled sums) or UNSHIFTED_WIDE (right -1: WIDE_ROW, then per output
 * the 64-bit form), then NEXT (to label 0 for the next row); label 11 holds their addresses in
 * TE_GEMM_STAGE_* order. */
#define GEMM_FUSED_ROWS(DOT, OUT, PLAIN, DOUBLED, NO_SIGN, UNSHIFTED, WIDE_ROW, UNSHIFTED_WIDE, NEXT) \
    DOT "5:\n\t" OUT(PLAIN) NEXT "b 9f\n"                                                        \
    "6:\n\t" OUT(DOUBLED) NEXT "b 9f\n"                                                          \
    "7:\n\t" OUT(NO_SIGN) NEXT "b 9f\n"                                                          \
    "8:\n\t" OUT(UNSHIFTED) NEXT "b 9f\n"                                                        \
    "10:\n\t" WIDE_ROW OUT(UNSHIFTED_WIDE) NEXT "b 9f\n"                                         \
    ".p2align 2\n"                                                                              \
    "11:\n\t"                                                                                   \
    ".word 5b + 1, 6b + 1, 7b + 1, 8b + 1, 10b + 1\n"                                            \
    "9:\n\t"

/* Blocks of 4, 2 and 1: 14 registers hold the dot's operands and op, the row's output pointer,
 * which addresses the row's bias, multiplier and shift too ([k + op] for k = kb, km, ks below);
 * its start value is g->start_hi[right - 1] ([hs + 4 right]). The output stage takes the dot's
 * registers: m in w, right in we, start value in n, lo in xp, hi in x0, cout in x1, end in x2
 * (OUT loads it), 3 cout in x3, until op reaches `end`. The constants come from the stack in
 * pairs, one LDRD each. */
#define GEMM_FUSED_ROW "ldrd %[n], %[xp], %[kb_cols]\n\tldr %[n], [%[n], %[op], lsl #2]\n\t"
#define GEMM_FUSED(DOT, OUT)                                                                          \
    GEMM_FUSED_ROWS(DOT, OUT, GEMM_FUSED_REQUANT, GEMM_FUSED_DOUBLED, GEMM_FUSED_NO_SIGN, GEMM_FUSED_UNSHIFTED, \
                    "ldr %[we], %[lo_init]\n\t", GEMM_FUSED_UNSHIFTED_WIDE, GEMM_FUSED_NEXT)
#define GEMM_FUSED_EPILOGUE                  \
    "ldrd %[w], %[we], %[km_ks]\n\t"         \
    "ldr %[w], [%[w], %[op], lsl #2]\n\t"    \
    "ldrsb %[we], [%[we], %[op]]\n\t"        \
    "ldrd %[n], %[x1], %[hs_cout]\n\t"       \
    "mvn %[we], %[we]\n\t"                   \
    "ldr %[n], [%[n], %[we], lsl #2]\n\t"
#define GEMM_FUSED_NEXT          \
    "add %[op], %[op], #1\n\t"   \
    "cmp %[op], %[x2]\n\t"       \
    "bne 0b\n\t"
#define GEMM_FUSED_REQUANT(X) GEMM_REQUANT_IN(X, "xp", "x0", "n", "w", "we")
#define GEMM_FUSED_DOUBLED(X) GEMM_DOUBLED_IN(X, "x0", "n", "w", "we", "1")
#define GEMM_FUSED_NO_SIGN(X) GEMM_DOUBLED_IN(X, "x0", "n", "w", "we", "0")
#define GEMM_FUSED_UNSHIFTED(X) GEMM_UNSHIFTED_IN(X, "x0", "n", "w")
#define GEMM_FUSED_UNSHIFTED_WIDE(X) GEMM_UNSHIFTED_WIDE_IN(X, "xp", "x0", "we", "n", "w")
#define GEMM_FUSED_OUT4(RQ)                                                              \
    "ldrd %[x3], %[x2], %[cout3_end]\n\t" RQ("a0") "strb %[x0], [%[op]]\n\t" RQ("a1")       \
    "strb %[x0], [%[op], %[x1]]\n\t" RQ("a2") "strb %[x0], [%[op], %[x1], lsl #1]\n\t" RQ("a3") \
    "strb %[x0], [%[op], %[x3]]\n\t"
#define GEMM_FUSED_OUT2(RQ) \
    "ldr %[x2], %[end]\n\t" RQ("a0") "strb %[x0], [%[op]]\n\t" RQ("a1") "strb %[x0], [%[op], %[x1]]\n\t"
#define GEMM_FUSED_OUT1(RQ) "ldr %[x2], %[end]\n\t" RQ("a0") "strb %[x0], [%[op]]\n\t"

/* Blocks of 6: the dot's 14 registers are a0..a5, x0..x3, w, we, xp and wp, so the row's op =
 * out + row lives on the stack (st[1], between kb = bias - 4 out and cout), the bias goes to a5
 * (the sum the first chunk updates last), and the rows end when wp reaches the filter's end.
 * The output stage: m in w, right in we, start value in xp, lo in x0, hi in x1, cout in x2, op
 * in x3 (stepped by 2 cout for pixels 3..5). */
#define GEMM_FUSED6                                                                                   \
    GEMM_FUSED_ROWS(GEMM_FUSED_TWO("8",                                                                \
                                   "ldrd %[x0], %[x1], %[kb_op]\n\tldr %[xp], %[cols]\n\t"              \
                                   "ldr %[a5], [%[x0], %[x1], lsl #2]\n\t",                             \
                                   GEMM_BODY6_FROM("a5", "a5", "a5", "a5", "a5", "a5"), GEMM_BODY6,     \
                                   GEMM_MORE6_8, GEMM_FUSED6_EPILOGUE),                                 \
                    GEMM_FUSED6_OUT, GEMM_FUSED6_REQUANT, GEMM_FUSED6_DOUBLED, GEMM_FUSED6_NO_SIGN,      \
                    GEMM_FUSED6_UNSHIFTED, "ldr %[we], %[lo_init]\n\t", GEMM_FUSED6_UNSHIFTED_WIDE,       \
                    GEMM_FUSED6_NEXT)
#define GEMM_FUSED6_EPILOGUE                  \
    "ldrd %[w], %[we], %[km_ks]\n\t"          \
    "ldrd %[x3], %[x2], %[op_cout]\n\t"       \
    "ldr %[xp], %[hs]\n\t"                    \
    "ldr %[w], [%[w], %[x3], lsl #2]\n\t"     \
    "ldrsb %[we], [%[we], %[x3]]\n\t"         \
    "add %[x1], %[x3], #1\n\t"                \
    "str %[x1], %[op_cout]\n\t"               \
    "mvn %[we], %[we]\n\t"                    \
    "ldr %[xp], [%[xp], %[we], lsl #2]\n\t"
#define GEMM_FUSED6_NEXT          \
    "ldr %[x0], %[w_end]\n\t"     \
    "cmp %[wp], %[x0]\n\t"        \
    "bne 0b\n\t"
#define GEMM_FUSED6_REQUANT(X) GEMM_REQUANT_IN(X, "x0", "x1", "xp", "w", "we")
#define GEMM_FUSED6_DOUBLED(X) GEMM_DOUBLED_IN(X, "x1", "xp", "w", "we", "1")
#define GEMM_FUSED6_NO_SIGN(X) GEMM_DOUBLED_IN(X, "x1", "xp", "w", "we", "0")
#define GEMM_FUSED6_UNSHIFTED(X) GEMM_UNSHIFTED_IN(X, "x1", "xp", "w")
#define GEMM_FUSED6_UNSHIFTED_WIDE(X) GEMM_UNSHIFTED_WIDE_IN(X, "x0", "x1", "we", "xp", "w")
#define GEMM_FUSED6_OUT(RQ)                                                                        \
    RQ("a0") "strb %[x1], [%[x3]]\n\t" RQ("a1") "strb %[x1], [%[x3], %[x2]]\n\t" RQ("a2")             \
    "strb %[x1], [%[x3], %[x2], lsl #1]\n\t"                                                      \
    "add %[x3], %[x3], %[x2], lsl #1\n\t" RQ("a3") "strb %[x1], [%[x3], %[x2]]\n\t"                \
    RQ("a4") "strb %[x1], [%[x3], %[x2], lsl #1]\n\t"                                             \
    "add %[x3], %[x3], %[x2], lsl #1\n\t" RQ("a5") "strb %[x1], [%[x3], %[x2]]\n\t"
#endif

/* acc[i] = row w . column i + bias for the block's columns (any block): the portable path's
 * rows (inlined where the block size is a constant), and on the DSP path the few rows of a
 * layer with fused rows that take the general output stage (te_gemm_block). */
static inline __attribute__((always_inline)) void gemm_dot_row(const int16_t *cols, const int8_t *w,
                                                               int32_t chunks, int32_t block, int32_t bias,
                                                               uint32_t *acc)
{
    for (int32_t i = 0; i < block; i++) {
        acc[i] = (uint32_t)bias;
    }
    for (int32_t k = 0; k < chunks; k++, w += 4) {
#if TE_USE_DSP
        const uint32_t word = te_load4(w), even = __sxtb16(word), odd = te_sxtb16_ror8(word);
#endif
        for (int32_t i = 0; i < block; i++) {
            const int16_t *x = cols + 4 * (k * block + i);
#if TE_USE_DSP
            uint32_t x_even, x_odd;
            memcpy(&x_even, x, 4);
            memcpy(&x_odd, x + 2, 4);
            acc[i] = __smlad(x_odd, odd, __smlad(x_even, even, acc[i]));
#else
            /* Unsigned: the sums wrap like the hardware's (biases near INT32_MIN on dead channels). */
            acc[i] += (uint32_t)(x[0] * w[0] + x[1] * w[2]) + (uint32_t)(x[2] * w[1] + x[3] * w[3]);
#endif
        }
    }
}

/* acc[block r + i] = row r . column i + bias[r] for the `count` rows from *wp (left at the next
 * row) and the block's columns (block: a constant 4, 2 or 1, or 6 on the portable path: blocks
 * of 6 are for layers with fused rows, te_gemm_init). */
static inline __attribute__((always_inline)) void gemm_dot_rows(const int16_t *cols, const int8_t **wp, int32_t chunks,
                                                                int32_t block, const int32_t *bias, int32_t count,
                                                                uint32_t *acc)
{
#if TE_GEMM_ASM
    const int8_t *w8 = *wp;
    const int32_t *bp = bias, *end = bias + count, rest = chunks - 1;
    uint32_t *accp = acc, jump[2] = {0, 0};
    const int16_t *xp;
    uint32_t n, w, we;
    TE_LDM_REGISTERS(a0, a1, a2, a3, x0, x1, x2, x3);
#define GEMM_DOT_OPERANDS                                                                                         \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x0] "=&r"(x0), [x1] "=&r"(x1),           \
      [x2] "=&r"(x2), [x3] "=&r"(x3), [w] "=&r"(w), [we] "=&r"(we), [n] "=&r"(n), [xp] "=&r"(xp), [wp] "+r"(w8), \
      [bp] "+r"(bp), [accp] "+m"(accp), [iters] "+m"(jump[0]), [entry] "+m"(jump[1])                            \
    : [cols] "m"(cols), [rest] "m"(rest), [end] "m"(end)                                                      \
    : "cc", "memory"
    if (block == 4) {
        __asm__ volatile(GEMM_ROWS(GEMM_CHUNKS(GEMM_BODY4_FROM("n", "n", "n", "n"), GEMM_BODY4, GEMM_MORE4), "4", "2", "stm %[xp]!, {%[a0], %[a1], %[a2], %[a3]}\n\t") GEMM_DOT_OPERANDS);
    } else if (block == 2) {
        __asm__ volatile(GEMM_ROWS(GEMM_CHUNKS(GEMM_BODY2_FROM("n", "n"), GEMM_BODY2, GEMM_MORE2), "4", "2", "stm %[xp]!, {%[a0], %[a1]}\n\t") GEMM_DOT_OPERANDS);
    } else {
        __asm__ volatile(GEMM_ROWS(GEMM_CHUNKS(GEMM_BODY1_FROM("n"), GEMM_BODY1, GEMM_MORE1), "4", "2", "str %[a0], [%[xp]], #4\n\t") GEMM_DOT_OPERANDS);
    }
#undef GEMM_DOT_OPERANDS
    *wp = w8;
#else
    for (int32_t r = 0; r < count; r++, acc += block, *wp += 4 * chunks) {
        gemm_dot_row(cols, *wp, chunks, block, bias[r], acc);
    }
#endif
}

static inline int8_t saturate8(int32_t v)
{
#if TE_USE_DSP
    return (int8_t)__ssat(v, 8);
#else
    return (int8_t)te_clamp(v, -128, 127);
#endif
}

/* The output stage of `count` rows (block sums each at acc) whose channels all take
 * te_gemm_requant with the range of int8: pixel i's channel at out[i * cout]; the sums doubled
 * unless `stage` is TE_GEMM_STAGE_PLAIN (the portable loop; the assembly takes that stage only:
 * doubled layers run fused rows). */
static inline __attribute__((always_inline)) void gemm_store_fast(const te_conv_params *p, int32_t oc,
                                                                  int32_t count, int32_t block, const uint32_t *acc,
                                                                  int8_t *out, int32_t stage)
{
    const int32_t cout = p->out_c;
    /* start_hi = 2^(right-1) + offset 2^right = ((2 offset + 1) << right) >> 1. */
    const uint32_t odd_offset = 2u * (uint32_t)p->output_offset + 1u;
#if TE_GEMM_ASM
    const int32_t *mp = p->multiplier + oc, *end = mp + count;
    const int8_t *sp8 = p->shift + oc;
    int8_t *op = out;
    uint32_t m, r, h, lo, hi;
    register const uint32_t *accp __asm__("r12") = acc;
    register uint32_t x0 __asm__("r8");
    register uint32_t x1 __asm__("r9");
    register uint32_t x2 __asm__("r10");
    register uint32_t x3 __asm__("r11");
#define GEMM_STORE_OPERANDS                                                                                         \
    : [accp] "+r"(accp), [mp] "+r"(mp), [sp8] "+r"(sp8), [op] "+r"(op), [m] "=&r"(m), [r] "=&r"(r), [h] "=&r"(h), \
      [lo] "=&r"(lo), [hi] "=&r"(hi), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3)              \
    : [cout] "r"(cout), [odd] "m"(odd_offset), [end] "m"(end)                                                      \
    : "cc", "memory"
    if (block == 4) {
        __asm__ volatile(GEMM_STORE_ROWS("ldm %[accp]!, {%[x0], %[x1], %[x2], %[x3]}\n\t", GEMM_OUT4) GEMM_STORE_OPERANDS);
    } else if (block == 2) {
        __asm__ volatile(GEMM_STORE_ROWS("ldm %[accp]!, {%[x0], %[x1]}\n\t", GEMM_OUT2) GEMM_STORE_OPERANDS);
    } else {
        __asm__ volatile(GEMM_STORE_ROWS("ldr %[x0], [%[accp]], #4\n\t", GEMM_OUT1) GEMM_STORE_OPERANDS);
    }
#undef GEMM_STORE_OPERANDS
    (void)stage;
#else
    for (int32_t r = 0; r < count; r++, acc += block, out++) {
        const int32_t m = p->multiplier[oc + r], right = ~(int32_t)p->shift[oc + r];
        const int32_t start = (int32_t)(odd_offset << right);
        for (int32_t i = 0; i < block; i++) {
            out[i * cout] = saturate8(stage == TE_GEMM_STAGE_PLAIN
                                          ? te_gemm_requant((int32_t)acc[i], m, start >> 1, right)
                                          : te_gemm_requant_doubled((int32_t)acc[i], m, start, right,
                                                                    stage == TE_GEMM_STAGE_DOUBLED));
        }
    }
#endif
}

/* The same for any channels: te_gemm_requant where it applies, else te_requantize and the
 * activation range (layers with such channels or a narrower range: out of line). Doubled sums
 * (layers with fused rows only: the assembly's rows that reach here do not take
 * te_gemm_requant) are even: halved exactly. */
static void __attribute__((noinline)) gemm_store_general(const te_gemm *g, int32_t oc, int32_t count,
                                                         int32_t block, const uint32_t *acc, int8_t *out)
{
    const te_conv_params *p = g->p;
    for (int32_t r = 0; r < count; r++, acc += block, out++) {
        const int32_t m = p->multiplier[oc + r], right = ~(int32_t)p->shift[oc + r];
        if (g->full_range && te_gemm_requant_applies(m, right)) {
            gemm_store_fast(p, oc + r, 1, block, acc, out, g->stage);
            continue;
        }
        const te_requant_channel q = te_requant_prepare(m, p->shift[oc + r], p->output_offset);
        for (int32_t i = 0; i < block; i++) {
            const int32_t sum = g->doubled ? (int32_t)acc[i] >> 1 : (int32_t)acc[i];
            out[i * p->out_c] = (int8_t)te_clamp(te_requant_apply(&q, sum), p->act_min, p->act_max);
        }
    }
}

static inline __attribute__((always_inline)) void gemm_rows(const te_gemm *g, const int16_t *cols, int32_t block,
                                                            int8_t *out)
{
    const te_conv_params *p = g->p;
    const int32_t cout = p->out_c;
    const int8_t *w = p->filter;
    /* Blocks of 6 take groups of fewer rows in the same buffer. */
    const int32_t group = 4 * GROUP / block;
    uint32_t acc[4 * GROUP];
    for (int32_t oc = 0; oc < cout; oc += group) {
        const int32_t count = cout - oc < group ? cout - oc : group;
        gemm_dot_rows(cols, &w, g->chunks, block, p->bias + oc, count, acc);
        /* The assembly takes layers with fused rows in gemm_fused. */
        if (!TE_GEMM_ASM && g->fused && g->general == NULL) {
            gemm_store_fast(p, oc, count, block, acc, out + oc, g->stage);
        } else {
            gemm_store_general(g, oc, count, block, acc, out + oc);
        }
    }
}

/* One instance per block size, each with its loops and registers to itself. */
#if !TE_GEMM_ASM
static void __attribute__((noinline)) gemm_rows6(const te_gemm *g, const int16_t *cols, int8_t *out)
{
    gemm_rows(g, cols, 6, out);
}
#endif

static void __attribute__((noinline)) gemm_rows4(const te_gemm *g, const int16_t *cols, int8_t *out)
{
    gemm_rows(g, cols, 4, out);
}

static void __attribute__((noinline)) gemm_rows2(const te_gemm *g, const int16_t *cols, int8_t *out)
{
    gemm_rows(g, cols, 2, out);
}

static void __attribute__((noinline)) gemm_rows1(const te_gemm *g, const int16_t *cols, int8_t *out)
{
    gemm_rows(g, cols, 1, out);
}

#if TE_GEMM_ASM
/* Rows first..end - 1 of the block (block: a constant 4, 2 or 1) through output stage `stage`
 * (TE_GEMM_STAGE_*), for a layer with g->fused (blocks of 6: gemm_fused6). */
static inline __attribute__((always_inline)) void gemm_fused(const te_gemm *g, const int16_t *cols, int32_t block,
                                                             int8_t *out, int32_t first, int32_t end_row,
                                                             int32_t stage)
{
    const te_conv_params *p = g->p;
    const int8_t *w8 = p->filter + 4 * g->chunks * first;
    int8_t *op = out + first;
    /* Row op - out's bias at kb + 4 op, multiplier at km + 4 op, shift at ks + op, start value at
     * hs + 4 right (addresses wrap like the registers), each paired with the next constant the
     * assembly loads. */
    const uintptr_t o = (uintptr_t)out;
    const uintptr_t kb_cols[2] = {(uintptr_t)p->bias - 4u * o, (uintptr_t)cols};
    const uintptr_t km_ks[2] = {(uintptr_t)p->multiplier - 4u * o, (uintptr_t)p->shift - o};
    const uintptr_t hs_cout[2] = {(uintptr_t)(g->start + 1), (uintptr_t)p->out_c};
    const uintptr_t cout3_end[2] = {3u * (uint32_t)p->out_c, (uintptr_t)(out + end_row)};
    /* On the stack (SP-relative) like the other constants: no register is free for g. */
    const int32_t rest = g->chunks - 1;
    const uint32_t lo_init = g->unshifted_lo;
    uint32_t jump[4];
    const int16_t *xp;
    uint32_t a0, a1, a2, a3, n, w, we;
    register uint32_t x0 __asm__("r8");
    register uint32_t x1 __asm__("r9");
    register uint32_t x2 __asm__("r10");
    register uint32_t x3 __asm__("r11");
#define GEMM_FUSED_OPERANDS                                                                                       \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x0] "=&r"(x0), [x1] "=&r"(x1),           \
      [x2] "=&r"(x2), [x3] "=&r"(x3), [w] "=&r"(w), [we] "=&r"(we), [n] "=&r"(n), [xp] "=&r"(xp), [wp] "+r"(w8), \
      [op] "+r"(op), [entry] "=m"(jump[0]), [stage_pc] "=m"(jump[1]), [iters] "=m"(jump[2]),                   \
      [entry2] "=m"(jump[3])                                                                                    \
    : [kb_cols] "m"(kb_cols), [rest] "m"(rest), [km_ks] "m"(km_ks), [hs_cout] "m"(hs_cout),                      \
      [cout3_end] "m"(cout3_end), [end] "m"(cout3_end[1]), [stage] "m"(stage), [lo_init] "m"(lo_init)             \
    : "cc", "memory"
    if (block == 4) {
        __asm__ volatile(GEMM_FUSED(GEMM_FUSED_TWO_COUNTED("8", "3", GEMM_FUSED_ROW,
                                                           GEMM_BODY4_FROM("n", "n", "n", "n"), GEMM_BODY4,
                                                           GEMM_MORE4_8, GEMM_FUSED_EPILOGUE),
                                    GEMM_FUSED_OUT4) GEMM_FUSED_OPERANDS);
    } else if (block == 2) {
        __asm__ volatile(GEMM_FUSED(GEMM_FUSED_COUNTED("4", "2", GEMM_FUSED_ROW, GEMM_BODY2_FROM("n", "n"),
                                                       GEMM_BODY2, GEMM_MORE2, GEMM_FUSED_EPILOGUE),
                                    GEMM_FUSED_OUT2) GEMM_FUSED_OPERANDS);
    } else {
        __asm__ volatile(GEMM_FUSED(GEMM_FUSED_COUNTED("4", "2", GEMM_FUSED_ROW, GEMM_BODY1_FROM("n"), GEMM_BODY1,
                                                       GEMM_MORE1, GEMM_FUSED_EPILOGUE),
                                    GEMM_FUSED_OUT1) GEMM_FUSED_OPERANDS);
    }
#undef GEMM_FUSED_OPERANDS
}

/* Blocks of 6 (GEMM_FUSED6), rows first..end - 1 through output stage `stage`. */
static void __attribute__((noinline)) gemm_fused6(const te_gemm *g, const int16_t *cols, int8_t *out, int32_t first,
                                                  int32_t end_row, int32_t stage)
{
    const te_conv_params *p = g->p;
    const int8_t *w8 = p->filter + 4 * g->chunks * first;
    const uintptr_t st[3] = {(uintptr_t)p->bias - 4u * (uintptr_t)out, (uintptr_t)(out + first), (uintptr_t)p->out_c};
    const uintptr_t km_ks[2] = {(uintptr_t)p->multiplier - 4u * (uintptr_t)out, (uintptr_t)p->shift - (uintptr_t)out};
    const int32_t *hs = g->start + 1;
    const int16_t *cols_end = cols + 24 * g->chunks;
    const int8_t *w_end = p->filter + 4 * g->chunks * end_row;
    const int32_t rest = g->chunks - 1;
    const uint32_t lo_init = g->unshifted_lo;
    uint32_t jump[2];
    const int16_t *xp;
    uint32_t a0, a1, a2, a3, a4, a5, w, we;
    register uint32_t x0 __asm__("r8");
    register uint32_t x1 __asm__("r9");
    register uint32_t x2 __asm__("r10");
    register uint32_t x3 __asm__("r11");
    __asm__ volatile(GEMM_FUSED6
                     : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [a4] "=&r"(a4), [a5] "=&r"(a5),
                       [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), [w] "=&r"(w), [we] "=&r"(we),
                       [xp] "=&r"(xp), [wp] "+r"(w8), [entry] "=m"(jump[0]), [stage_pc] "=m"(jump[1])
                     : [kb_op] "m"(st), [op_cout] "m"(st[1]), [km_ks] "m"(km_ks), [hs] "m"(hs), [cols] "m"(cols),
                       [cols_end] "m"(cols_end), [w_end] "m"(w_end), [rest] "m"(rest), [stage] "m"(stage),
                       [lo_init] "m"(lo_init)
                     : "cc", "memory");
}

static void __attribute__((noinline)) gemm_fused4(const te_gemm *g, const int16_t *cols, int8_t *out, int32_t first,
                                                  int32_t end_row, int32_t stage)
{
    gemm_fused(g, cols, 4, out, first, end_row, stage);
}

static void __attribute__((noinline)) gemm_fused2(const te_gemm *g, const int16_t *cols, int8_t *out, int32_t first,
                                                  int32_t end_row, int32_t stage)
{
    gemm_fused(g, cols, 2, out, first, end_row, stage);
}

static void __attribute__((noinline)) gemm_fused1(const te_gemm *g, const int16_t *cols, int8_t *out, int32_t first,
                                                  int32_t end_row, int32_t stage)
{
    gemm_fused(g, cols, 1, out, first, end_row, stage);
}

/* Rows first..end - 1 of the block through output stage `stage`. */
static inline __attribute__((always_inline)) void gemm_fused_rows(const te_gemm *g, const int16_t *cols,
                                                                  int32_t block, int8_t *out, int32_t first,
                                                                  int32_t end_row, int32_t stage)
{
    if (block == 6) {
        gemm_fused6(g, cols, out, first, end_row, stage);
    } else if (block == 4) {
        gemm_fused4(g, cols, out, first, end_row, stage);
    } else if (block == 2) {
        gemm_fused2(g, cols, out, first, end_row, stage);
    } else {
        gemm_fused1(g, cols, out, first, end_row, stage);
    }
}

/* The rows of a layer with fused rows and others: runs of fused rows between them; those of
 * right -1 in runs of their own stage, each other one through gemm_dot_row and the general
 * output stage (out of line: most layers have none). */
static void __attribute__((noinline)) gemm_fused_runs(const te_gemm *g, const int16_t *cols, int32_t block,
                                                      int8_t *out)
{
    const te_conv_params *p = g->p;
    int32_t first = 0;
    for (const int16_t *next = g->general; *next >= 0;) {
        const int32_t row = *next++;
        if (row > first) {
            gemm_fused_rows(g, cols, block, out, first, row, g->stage);
        }
        int32_t end_row = row + 1;
        if (te_gemm_unshifted_applies(p->multiplier[row], ~(int32_t)p->shift[row])) {
            while (*next == end_row && te_gemm_unshifted_applies(p->multiplier[end_row], ~(int32_t)p->shift[end_row])) {
                next++;
                end_row++;
            }
            gemm_fused_rows(g, cols, block, out, row, end_row, g->unshifted_stage);
        } else {
            uint32_t acc[6];
            gemm_dot_row(cols, p->filter + 4 * g->chunks * row, g->chunks, block, p->bias[row], acc);
            gemm_store_general(g, row, 1, block, acc, out + row);
        }
        first = end_row;
    }
    if (first < p->out_c) {
        gemm_fused_rows(g, cols, block, out, first, p->out_c, g->stage);
    }
}
#endif

void te_gemm_block(const te_gemm *g, const int16_t *cols, int32_t block, int8_t *out)
{
#if TE_GEMM_ASM
    if (g->fused) {
        if (g->general != NULL) {
            gemm_fused_runs(g, cols, block, out);
        } else {
            gemm_fused_rows(g, cols, block, out, 0, g->p->out_c, g->stage);
        }
        return;
    }
#else
    if (block == 6) {
        gemm_rows6(g, cols, out);
        return;
    }
#endif
    if (block == 4) {
        gemm_rows4(g, cols, out);
    } else if (block == 2) {
        gemm_rows2(g, cols, out);
    } else {
        gemm_rows1(g, cols, out);
    }
}

void te_gemm_init(te_gemm *g, const te_conv_params *p, int32_t len)
{
    g->p = p;
    g->chunks = (len + 3) >> 2;
    g->full_range = p->act_min <= -128 && p->act_max >= 127;
    /* Fused rows where p->gemm_rows lists every channel that does not take them (else the
     * grouped rows, which take any). */
    const int16_t *next = p->gemm_rows;
    g->fused = g->full_range;
    for (int32_t oc = 0; oc < p->out_c && g->fused; oc++) {
        if (!te_gemm_requant_applies(p->multiplier[oc], ~(int32_t)p->shift[oc])) {
            g->fused = next != NULL && *next++ == oc;
        }
    }
    g->fused = g->fused && (next == NULL || *next == -1);
    g->general = g->fused ? p->gemm_rows : NULL;
    /* Blocks of 6 only for fused rows (the assembly's other loops take 4, 2 or 1). */
    g->max_block = te_gemm_max_block(g->chunks, p->gemm_narrow || !g->fused);
    if (p->gemm_double && !g->fused) {
        g->max_block = 0;
    }
    /* Doubled sums need no sign term where the offset is -128 (te_gemm_requant_doubled). */
    g->doubled = p->gemm_double != 0;
    g->stage = !g->doubled ? TE_GEMM_STAGE_PLAIN
                           : (p->output_offset == -128 ? TE_GEMM_STAGE_DOUBLED_NO_SIGN : TE_GEMM_STAGE_DOUBLED);
    g->unshifted_stage = g->doubled ? TE_GEMM_STAGE_UNSHIFTED : TE_GEMM_STAGE_UNSHIFTED_WIDE;
#if TE_GEMM_ASM
    /* gemm_store_fast's start_hi = ((2 offset + 1) << right) >> 1 (doubled: start = (2 offset + 1)
     * << right), once per layer; for right -1 the offset, or offset 2^31 + 2^30 in two words. */
    const uint32_t odd_offset = 2u * (uint32_t)p->output_offset + 1u;
    for (int32_t right = 1; g->fused && right <= TE_GEMM_REQUANT_MAX_RIGHT; right++) {
        g->start[right + 1] = (int32_t)(odd_offset << right) >> (g->doubled ? 0 : 1);
    }
    g->start[0] = g->doubled ? p->output_offset : p->output_offset >> 1;
    g->unshifted_lo = 0x40000000u | (uint32_t)p->output_offset << 31;
#endif
}

void te_gemm_widen_pairs(const int8_t *x, int32_t stride, int32_t len, int16_t *cols, int32_t block,
                         int32_t doubled)
{
#if TE_GEMM_ASM
    /* A chunk of the 4 (6) columns is 4 (6) LDR, 8 (12) SXTB16 and two (three) STM of the
     * block's words for it (instead of 4 times LDR, 2 SXTB16 and 2 STR, and a loop each). */
    const int32_t full = len >> 2;
    if (full > 0) {
        const int8_t *x0 = x, *x2 = x + 2 * stride, *x4 = x + 4 * stride;
        int16_t *dst = cols;
        int32_t n = full;
        /* STM stores registers in ascending order: a pixel's even and odd words, then the next
         * pixel's. Four fixed registers leave the compiler room at every optimisation level. */
        register uint32_t e0 __asm__("r8");
        register uint32_t o0 __asm__("r9");
        register uint32_t e1 __asm__("r10");
        register uint32_t o1 __asm__("r11");
#define GEMM_WIDEN_PAIR_X(XP, DOUBLE)                         \
    "ldr %[o1], [%[" XP "], %[s]]\n\t"                       \
    "ldr %[o0], [%[" XP "]], #4\n\t"                         \
    "sxtb16 %[e0], %[o0]\n\t"                                \
    "sxtb16 %[o0], %[o0], ror #8\n\t"                        \
    "sxtb16 %[e1], %[o1]\n\t"                                \
    "sxtb16 %[o1], %[o1], ror #8\n\t"                        \
    ".if " DOUBLE "\n\t"                                      \
    "sadd16 %[e0], %[e0], %[e0]\n\t"                         \
    "sadd16 %[o0], %[o0], %[o0]\n\t"                         \
    "sadd16 %[e1], %[e1], %[e1]\n\t"                         \
    "sadd16 %[o1], %[o1], %[o1]\n\t"                         \
    ".endif\n\t"                                             \
    "stm %[dst]!, {%[e0], %[o0], %[e1], %[o1]}\n\t"
#define GEMM_WIDEN_PAIR(XP) GEMM_WIDEN_PAIR_X(XP, "0")
#define GEMM_WIDEN_PAIR2(XP) GEMM_WIDEN_PAIR_X(XP, "1")
#define GEMM_WIDEN_OPERANDS                                                                                 \
    : [e0] "=&r"(e0), [o0] "=&r"(o0), [e1] "=&r"(e1), [o1] "=&r"(o1), [x0] "+r"(x0), [x2] "+r"(x2), [x4] "+r"(x4), \
      [dst] "+r"(dst), [n] "+r"(n)                                                                              \
    : [s] "r"(stride)                                                                                           \
    : "cc", "memory"
        if (block == 6 && doubled) {
            __asm__ volatile("1:\n\t" GEMM_WIDEN_PAIR2("x0") GEMM_WIDEN_PAIR2("x2") GEMM_WIDEN_PAIR2("x4")
                             "subs %[n], %[n], #1\n\t"
                             "bne 1b" GEMM_WIDEN_OPERANDS);
        } else if (doubled) {
            __asm__ volatile("1:\n\t" GEMM_WIDEN_PAIR2("x0") GEMM_WIDEN_PAIR2("x2")
                             "subs %[n], %[n], #1\n\t"
                             "bne 1b" GEMM_WIDEN_OPERANDS);
        } else if (block == 6) {
            __asm__ volatile("1:\n\t" GEMM_WIDEN_PAIR("x0") GEMM_WIDEN_PAIR("x2") GEMM_WIDEN_PAIR("x4")
                             "subs %[n], %[n], #1\n\t"
                             "bne 1b" GEMM_WIDEN_OPERANDS);
        } else {
            __asm__ volatile("1:\n\t" GEMM_WIDEN_PAIR("x0") GEMM_WIDEN_PAIR("x2")
                             "subs %[n], %[n], #1\n\t"
                             "bne 1b" GEMM_WIDEN_OPERANDS);
        }
#undef GEMM_WIDEN_OPERANDS
#undef GEMM_WIDEN_PAIR2
#undef GEMM_WIDEN_PAIR
#undef GEMM_WIDEN_PAIR_X
    }
    if (len & 3) {
        for (int32_t i = 0; i < block; i++) {
            te_gemm_widen_tail(x + i * stride + 4 * full, len & 3, cols + 4 * (block * full + i), doubled);
        }
    }
#else
    for (int32_t i = 0; i < block; i++) {
        te_gemm_widen(x + i * stride, len, cols, i, block, doubled);
    }
#endif
}

int32_t te_conv_1x1_s8_get_buffer_size(const te_conv_params *p)
{
    return te_gemm_scratch_bytes(p->in_c, p->gemm_narrow);
}

te_status te_conv_1x1_s8(const te_conv_params *p, const int8_t *input, int8_t *output, void *scratch)
{
    if (p == NULL || input == NULL || output == NULL || p->bias == NULL || scratch == NULL || p->k_h != 1 ||
        p->k_w != 1) {
        return TE_ERROR_ARGUMENT;
    }
#if TE_USE_MVE
    return te_conv_1x1_s8_mve(p, input, output, scratch);
#endif
    const int32_t cin = p->in_c, cout = p->out_c;
    te_gemm g;
    te_gemm_init(&g, p, cin);
    if (g.max_block == 0) {
        return TE_ERROR_ARGUMENT;
    }
    int16_t *cols = scratch;
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    for (int32_t px = 0, block = g.max_block; px < pixels; px += block) {
        block = te_gemm_next_block(block, pixels - px);
        if (block >= 4) {
            te_gemm_widen_pairs(input + (size_t)px * cin, cin, cin, cols, block, g.doubled);
        } else {
            for (int32_t i = 0; i < block; i++) {
                te_gemm_widen(input + (size_t)(px + i) * cin, cin, cols, i, block, g.doubled);
            }
        }
        te_gemm_block(&g, cols, block, output + (size_t)px * cout);
    }
    return TE_OK;
}
