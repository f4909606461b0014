/* tests/ops/layout.c — differential cases of the layout family (being written). */
#include "ops/families.h"

void layout_suite(const test_env *env, report_t *rep, bool list) {
    (void)env;
    (void)rep;
    (void)list;
}
