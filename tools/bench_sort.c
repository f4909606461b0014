/* bench_sort.c — placeholder: bench cases of the sort family. */
#include "bench.h"

int bench_sort_cases(bench_case *o, int max) {
    (void)o;
    (void)max;
    return 0;
}
