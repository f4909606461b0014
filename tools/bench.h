/* bench.h — the interface between `mlxn bench` and the op families' bench
   cases (tools/bench_<family>.c). A case says how to build one input/output
   set on a device and how to run the op on a set; bench.c does the timing
   (see docs/PERF.md for the method). */
#ifndef MLXN_BENCH_H
#define MLXN_BENCH_H

#include <stdint.h>

#include "harness.h"
#include "mlxn.h"

typedef struct bench_case bench_case;
struct bench_case {
    char name[96];        /* printed in the table; --filter matches it            */
    double bytes;         /* bytes one op moves: inputs read once + outputs written */
    double peer_cuda_us;  /* ggml's figure on our H100, 0 if none                  */
    double peer_cpu_us;   /* ggml-cpu's figure on our CPU machine, 0 if none       */
    mlxn_dtype dtype;
    int ops_per_run;      /* ops one run encodes (0 = 1); times are reported per op */
    int64_t i[8];         /* integer parameters, meaning per family                */
    float f[4];           /* float parameters                                      */
    /* Builds one set (inputs filled from rng, outputs allocated) on d. */
    mlxn_status (*make_set)(const bench_case *c, mlxn_device *d, rng_t *rng, void **set);
    /* Encodes the op once on set. */
    mlxn_status (*run)(const bench_case *c, mlxn_encoder *e, void *set);
    void (*free_set)(void *set);
};

/* Each family appends its cases to out (at most max) and returns how many. */
int bench_rope_cases(bench_case *out, int max);
int bench_norm_cases(bench_case *out, int max);
int bench_elementwise_cases(bench_case *out, int max);
int bench_softmax_cases(bench_case *out, int max);
int bench_chain_cases(bench_case *out, int max);
int bench_fused_norm_cases(bench_case *out, int max);
int bench_layout_cases(bench_case *out, int max);
int bench_reduce_cases(bench_case *out, int max);
int bench_sort_cases(bench_case *out, int max);
int bench_sample_cases(bench_case *out, int max);
int bench_backward_cases(bench_case *out, int max);
int bench_quant_ggml_cases(bench_case *out, int max);
int bench_quant_mlx_cases(bench_case *out, int max);

/* Helpers for make_set: a buffer of dtype t and shape filled with uniform
   values in [lo, hi) (integers for i32/u32), or zero-filled when fill is 0. */
mlxn_status bench_buffer(mlxn_device *d, mlxn_dtype t, int ndim, const int64_t *shape, rng_t *rng, double lo,
                         double hi, int fill, mlxn_buffer **out);

#endif
