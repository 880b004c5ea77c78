/* Host test driver: reads sets of model inputs from argv[1] (raw int8, inputs one
 * after another, sets back to back), runs the model on each, appends the raw
 * outputs to argv[2]. Canaries around the arena catch out-of-bounds writes. */
#include <stdio.h>
#include <string.h>

#include "genModel.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s INPUTS OUTPUTS\n", argv[0]);
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    FILE *out = fopen(argv[2], "wb");
    if (in == NULL || out == NULL) {
        perror("open");
        return 2;
    }
    for (;;) {
        for (int i = 0; i < TE_NUM_INPUTS; i++) {
            size_t n = te_input_bytes(i);
            if (fread(te_input(i), 1, n, in) != n) {
                fclose(out);
                return 0;
            }
        }
        int status = te_invoke();
        if (status != 0) {
            fprintf(stderr, "te_invoke failed: %d\n", status);
            return 3;
        }
        for (int i = 0; i < TE_NUM_OUTPUTS; i++) {
            fwrite(te_output(i), 1, te_output_bytes(i), out);
        }
    }
}
