/* bench_backward.c — placeholder: bench cases of the backward family. */
#include "bench.h"

int bench_backward_cases(bench_case *o, int max) {
    (void)o;
    (void)max;
    return 0;
}
