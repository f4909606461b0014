/* backward.c — placeholder: differential cases of the backward family. */
#include "families.h"

void backward_suite(const test_env *env, report_t *rep, bool list) {
    (void)env;
    (void)rep;
    (void)list;
}
