/* bench_elementwise.c — elementwise cases of `mlxn bench` (being written). */
#include "bench.h"

int bench_elementwise_cases(bench_case *out, int max) {
    (void)out;
    (void)max;
    return 0;
}
