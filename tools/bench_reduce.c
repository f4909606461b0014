/* bench_reduce.c — reduce cases of `mlxn bench`: ggml's test-backend-ops
   ARGMAX / CUMSUM perf shapes (ne = [n, rows, ...] there, [rows, n] here)
   with the peer figures of shared/reference/anchors-*.md, the vocab-decode
   argmax of one 262144 row, and a row sum of a 4096 x 4096 matrix. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* i[]: 0 op (0 argmax, 1 cumsum, 2 row_sum), 1 rows, 2 n */

typedef struct {
    mlxn_buffer *x, *o1, *o2;
} red_set;

static void free_set(void *p) {
    red_set *s = p;
    if (!s) return;
    mlxn_buffer_free(s->x);
    mlxn_buffer_free(s->o1);
    mlxn_buffer_free(s->o2);
    free(s);
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    red_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    const int64_t shp[2] = {c->i[1], c->i[2]}, r1[1] = {c->i[1]};
    mlxn_status st = bench_buffer(d, c->dtype, 2, shp, rng, -4.0, 4.0, 1, &s->x);
    if (!st) {
        if (c->i[0] == 0) {
            st = bench_buffer(d, MLXN_I32, 1, r1, rng, 0, 0, 0, &s->o1);
            if (!st) st = bench_buffer(d, MLXN_F32, 1, r1, rng, 0, 0, 0, &s->o2);
        } else if (c->i[0] == 1) {
            st = bench_buffer(d, c->dtype, 2, shp, rng, 0, 0, 0, &s->o1);
        } else {
            st = bench_buffer(d, MLXN_F32, 1, r1, rng, 0, 0, 0, &s->o1);
        }
    }
    if (st) {
        free_set(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    red_set *s = p;
    if (c->i[0] == 0) return mlxn_argmax(e, s->x, s->o1, s->o2);
    if (c->i[0] == 1) {
        mlxn_cumsum_params cp = {0, 0};
        return mlxn_cumsum(e, s->x, s->o1, &cp);
    }
    return mlxn_row_sum(e, s->x, s->o1);
}

static int add(bench_case *out, int n, int max, const char *name, int op, mlxn_dtype t, int64_t rows, int64_t cols,
               double peer_cuda, double peer_cpu) {
    if (n >= max) return n;
    bench_case *c = &out[n];
    memset(c, 0, sizeof *c);
    strncpy(c->name, name, sizeof c->name - 1);
    c->dtype = t;
    c->i[0] = op;
    c->i[1] = rows;
    c->i[2] = cols;
    const double in = (double)rows * (double)cols * (double)mlxn_dtype_size(t);
    c->bytes = in + (op == 1 ? in : op == 0 ? 8.0 * (double)rows : 4.0 * (double)rows);
    c->peer_cuda_us = peer_cuda;
    c->peer_cpu_us = peer_cpu;
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return n + 1;
}

int bench_reduce_cases(bench_case *o, int max) {
    int n = 0;
    n = add(o, n, max, "ARGMAX f32 [32000,512]", 0, MLXN_F32, 512, 32000, 0, 14274);
    n = add(o, n, max, "ARGMAX f32 [262144,1] (vocab decode)", 0, MLXN_F32, 1, 262144, 0, 0);
    n = add(o, n, max, "CUMSUM f32 [131072,16]", 1, MLXN_F32, 16, 131072, 159.9, 0);
    n = add(o, n, max, "CUMSUM f32 [2048,16,5,4]", 1, MLXN_F32, 320, 2048, 0, 0);
    n = add(o, n, max, "ROW_SUM f32 [4096,4096]", 2, MLXN_F32, 4096, 4096, 0, 0);
    return n;
}
