/* families.h — the op families of the differential harness (tests/test_ops.c).
   Each family file runs its cases against the float64 references on one
   backend (list = true: only print the case names). */
#ifndef MLXN_TEST_FAMILIES_H
#define MLXN_TEST_FAMILIES_H

#include <stdbool.h>

#include "harness.h"

void norm_suite(const test_env *env, report_t *rep, bool list);
void elementwise_suite(const test_env *env, report_t *rep, bool list);
void softmax_suite(const test_env *env, report_t *rep, bool list);
void fused_norm_suite(const test_env *env, report_t *rep, bool list);
void layout_suite(const test_env *env, report_t *rep, bool list);
void reduce_suite(const test_env *env, report_t *rep, bool list);
void sort_suite(const test_env *env, report_t *rep, bool list);
void sample_suite(const test_env *env, report_t *rep, bool list);
void backward_suite(const test_env *env, report_t *rep, bool list);
void quant_ggml_suite(const test_env *env, report_t *rep, bool list);
void quant_mlx_suite(const test_env *env, report_t *rep, bool list);

#endif
