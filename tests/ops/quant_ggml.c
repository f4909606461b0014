/* quant_ggml.c — placeholder: differential cases of the quant_ggml family. */
#include "families.h"

void quant_ggml_suite(const test_env *env, report_t *rep, bool list) {
    (void)env;
    (void)rep;
    (void)list;
}
