/* sample.c — placeholder: differential cases of the sample family. */
#include "families.h"

void sample_suite(const test_env *env, report_t *rep, bool list) {
    (void)env;
    (void)rep;
    (void)list;
}
