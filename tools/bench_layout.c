/* bench_layout.c — layout cases of `mlxn bench` (being written). */
#include "bench.h"

int bench_layout_cases(bench_case *out, int max) {
    (void)out;
    (void)max;
    return 0;
}
