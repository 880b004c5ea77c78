/* Runs a generated model once on the host: fills each input with the fixed pattern
 * b[k] = (k * 37) % 256 - 128, invokes, prints every output and the arena size. */
#include <stdio.h>

#include "genModel.h"

int main(void)
{
    for (int i = 0; i < TE_NUM_INPUTS; i++) {
        int8_t *in = te_input(i);
        for (size_t k = 0; k < te_input_bytes(i); k++) {
            in[k] = (int8_t)((int)((k * 37) % 256) - 128);
        }
    }
    int status = te_invoke();
    if (status != 0) {
        fprintf(stderr, "te_invoke failed with status %d\n", status);
        return 1;
    }
    for (int i = 0; i < TE_NUM_OUTPUTS; i++) {
        const int8_t *out = te_output(i);
        printf("output %d:", i);
        for (size_t k = 0; k < te_output_bytes(i); k++) {
            printf(" %d", out[k]);
        }
        printf("\n");
    }
    printf("arena: %d bytes\n", TE_ARENA_BYTES);
    return 0;
}
