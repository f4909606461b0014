/* bench_norm.c — norm cases of `mlxn bench` (being written). */
#include "bench.h"

int bench_norm_cases(bench_case *out, int max) {
    (void)out;
    (void)max;
    return 0;
}
