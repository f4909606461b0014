/* quant_mlx.c — placeholder: differential cases of the quant_mlx family. */
#include "families.h"

void quant_mlx_suite(const test_env *env, report_t *rep, bool list) {
    (void)env;
    (void)rep;
    (void)list;
}
