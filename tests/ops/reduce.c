/* tests/ops/reduce.c — differential cases of the reduce family (being written). */
#include "ops/families.h"

void reduce_suite(const test_env *env, report_t *rep, bool list) {
    (void)env;
    (void)rep;
    (void)list;
}
