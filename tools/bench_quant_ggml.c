/* bench_quant_ggml.c — placeholder: bench cases of the quant_ggml family. */
#include "bench.h"

int bench_quant_ggml_cases(bench_case *o, int max) {
    (void)o;
    (void)max;
    return 0;
}
