/* bench_fused_norm.c — fused-norm cases of `mlxn bench`. Shapes are written
   as ggml's ne = [dim, rows] (hidden size first). ggml's test-backend-ops has
   no fused add+norm perf case, so there is no peer figure: these are judged
   against the copy bandwidth. Bytes = every row input read once + every row
   output written once + w read once (cache-resident after the first rows,
   but counted, as bench_norm.c does).
   i[]: 0 op, 1 rows, 2 dim, 3 weight dtype (-1: none), 4 with sum_out;
   f[]: 0 eps, 1 scale. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum { OP_ADD, OP_NADD, OP_GATE };

typedef struct {
    mlxn_buffer *in0, *in1, *w, *y, *sum;
} fn_set;

static void free_set(void *p) {
    fn_set *s = p;
    if (!s) return;
    mlxn_buffer_free(s->in0);
    mlxn_buffer_free(s->in1);
    mlxn_buffer_free(s->w);
    mlxn_buffer_free(s->y);
    mlxn_buffer_free(s->sum);
    free(s);
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    fn_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    const int64_t shp[2] = {c->i[1], c->i[2]}, shw[1] = {c->i[2]};
    /* z of the gate over silu's interesting range */
    const double lo1 = c->i[0] == OP_GATE ? -4.0 : -1.0, hi1 = -lo1;
    mlxn_status st = bench_buffer(d, c->dtype, 2, shp, rng, -1.0, 1.0, 1, &s->in0);
    if (!st) st = bench_buffer(d, c->dtype, 2, shp, rng, lo1, hi1, 1, &s->in1);
    if (!st) st = bench_buffer(d, c->dtype, 2, shp, rng, 0, 0, 0, &s->y);
    if (!st && c->i[4]) st = bench_buffer(d, c->dtype, 2, shp, rng, 0, 0, 0, &s->sum);
    if (!st && c->i[3] >= 0) st = bench_buffer(d, (mlxn_dtype)c->i[3], 1, shw, rng, 0.5, 1.5, 1, &s->w);
    if (st) {
        free_set(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    fn_set *s = p;
    switch (c->i[0]) {
    case OP_ADD: {
        const mlxn_norm_params np = {c->f[0]};
        return mlxn_add_rms_norm(e, s->in0, s->in1, s->w, s->y, s->sum, &np);
    }
    case OP_NADD: {
        const mlxn_norm_add_params np = {c->f[0], c->f[1]};
        return mlxn_rms_norm_add(e, s->in0, s->w, s->in1, s->y, &np);
    }
    default: {
        const mlxn_norm_params np = {c->f[0]};
        return mlxn_rms_norm_gate(e, s->in0, s->w, s->in1, s->y, &np);
    }
    }
}

static int add(bench_case *out, int n, int max, const char *name, int op, mlxn_dtype t, int64_t rows, int64_t dim,
               int w_dtype, int sum, float eps, float scale) {
    if (n >= max) return n;
    bench_case *c = &out[n];
    memset(c, 0, sizeof *c);
    strncpy(c->name, name, sizeof c->name - 1);
    c->dtype = t;
    c->i[0] = op;
    c->i[1] = rows;
    c->i[2] = dim;
    c->i[3] = w_dtype;
    c->i[4] = sum;
    c->f[0] = eps;
    c->f[1] = scale;
    /* two row inputs + y (+ sum_out) */
    c->bytes = (3.0 + (sum ? 1.0 : 0.0)) * (double)rows * (double)dim * (double)mlxn_dtype_size(t) +
               (w_dtype >= 0 ? (double)dim * (double)mlxn_dtype_size((mlxn_dtype)w_dtype) : 0.0);
    c->peer_cuda_us = 0; /* no ggml perf case */
    c->peer_cpu_us = 0;
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return n + 1;
}

int bench_fused_norm_cases(bench_case *o, int max) {
    int n = 0;
    n = add(o, n, max, "ADD_RMS_NORM bf16 [4096,512] w.bf16 sum", OP_ADD, MLXN_BF16, 512, 4096, MLXN_BF16, 1, 1e-6f,
            1.0f);
    n = add(o, n, max, "ADD_RMS_NORM bf16 decode [4096,1] w.bf16 sum", OP_ADD, MLXN_BF16, 1, 4096, MLXN_BF16, 1,
            1e-6f, 1.0f);
    n = add(o, n, max, "ADD_RMS_NORM f32 [8192,4096] w.f32 sum", OP_ADD, MLXN_F32, 4096, 8192, MLXN_F32, 1, 1e-6f,
            1.0f);
    /* Qwen3.5 GDN output gate: [head_dim 128, 32 heads x 512 tokens] */
    n = add(o, n, max, "RMS_NORM_GATE f32 [128,32x512] w.f32", OP_GATE, MLXN_F32, 32 * 512, 128, MLXN_F32, 0, 1e-6f,
            1.0f);
    /* Gemma 4 post-norm with the layer scalar */
    n = add(o, n, max, "RMS_NORM_ADD bf16 [2816,512] w.bf16 scale", OP_NADD, MLXN_BF16, 512, 2816, MLXN_BF16, 0,
            1e-6f, 0.5f);
    return n;
}
