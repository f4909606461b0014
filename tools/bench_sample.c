/* bench_sample.c — placeholder: bench cases of the sample family. */
#include "bench.h"

int bench_sample_cases(bench_case *o, int max) {
    (void)o;
    (void)max;
    return 0;
}
