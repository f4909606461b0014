/* sort.c — placeholder: differential cases of the sort family. */
#include "families.h"

void sort_suite(const test_env *env, report_t *rep, bool list) {
    (void)env;
    (void)rep;
    (void)list;
}
