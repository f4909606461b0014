/* bench_norm.c — norm cases of `mlxn bench`. Shapes are written as ggml's
   ne = [dim, rows] (hidden size first). ggml's test-backend-ops has no
   RMS_NORM or L2_NORM perf case (shared/reference/anchors-h100.md), so there
   is no peer figure: these are judged against the copy bandwidth.
   Bytes = x read once + y written once + w read once. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum { OP_RMS, OP_L2 };
/* i[]: 0 op, 1 rows, 2 dim, 3 weight dtype (-1: none) */

typedef struct {
    mlxn_buffer *x, *w, *y;
} norm_set;

static void free_set(void *p) {
    norm_set *s = p;
    if (!s) return;
    mlxn_buffer_free(s->x);
    mlxn_buffer_free(s->w);
    mlxn_buffer_free(s->y);
    free(s);
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    norm_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    const int64_t shp[2] = {c->i[1], c->i[2]}, shw[1] = {c->i[2]};
    mlxn_status st = bench_buffer(d, c->dtype, 2, shp, rng, -1.0, 1.0, 1, &s->x);
    if (!st) st = bench_buffer(d, c->dtype, 2, shp, rng, 0, 0, 0, &s->y);
    if (!st && c->i[3] >= 0) st = bench_buffer(d, (mlxn_dtype)c->i[3], 1, shw, rng, 0.5, 1.5, 1, &s->w);
    if (st) {
        free_set(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    norm_set *s = p;
    const mlxn_norm_params np = {c->f[0]};
    return c->i[0] == OP_RMS ? mlxn_rms_norm(e, s->x, s->w, s->y, &np) : mlxn_l2_norm(e, s->x, s->y, &np);
}

static int add(bench_case *out, int n, int max, const char *name, int op, mlxn_dtype t, int64_t rows, int64_t dim,
               int w_dtype, float eps) {
    if (n >= max) return n;
    bench_case *c = &out[n];
    memset(c, 0, sizeof *c);
    strncpy(c->name, name, sizeof c->name - 1);
    c->dtype = t;
    c->i[0] = op;
    c->i[1] = rows;
    c->i[2] = dim;
    c->i[3] = w_dtype;
    c->f[0] = eps;
    c->bytes = 2.0 * (double)rows * (double)dim * (double)mlxn_dtype_size(t) +
               (w_dtype >= 0 ? (double)dim * (double)mlxn_dtype_size((mlxn_dtype)w_dtype) : 0.0);
    c->peer_cuda_us = 0; /* no ggml perf case */
    c->peer_cpu_us = 0;
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return n + 1;
}

int bench_norm_cases(bench_case *o, int max) {
    int n = 0;
    n = add(o, n, max, "RMS_NORM f32 [4096,512] w.f32", OP_RMS, MLXN_F32, 512, 4096, MLXN_F32, 1e-6f);
    n = add(o, n, max, "RMS_NORM f32 decode [4096,1] w.f32", OP_RMS, MLXN_F32, 1, 4096, MLXN_F32, 1e-6f);
    n = add(o, n, max, "RMS_NORM f32 [8192,4096] w.f32", OP_RMS, MLXN_F32, 4096, 8192, MLXN_F32, 1e-6f);
    n = add(o, n, max, "RMS_NORM bf16 [4096,512] w.bf16", OP_RMS, MLXN_BF16, 512, 4096, MLXN_BF16, 1e-6f);
    n = add(o, n, max, "L2_NORM f32 GDN q/k [128,32768]", OP_L2, MLXN_F32, 32768, 128, -1, 1e-6f);
    return n;
}
