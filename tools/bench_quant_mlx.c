/* bench_quant_mlx.c — placeholder: bench cases of the quant_mlx family. */
#include "bench.h"

int bench_quant_mlx_cases(bench_case *o, int max) {
    (void)o;
    (void)max;
    return 0;
}
