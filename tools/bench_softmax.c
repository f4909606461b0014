/* bench_softmax.c — softmax cases of `mlxn bench`: ggml's test-backend-ops
   SOFT_MAX perf shapes (ne = [cols, rows, ...] there, [rows, cols] here) and
   peer figures from shared/reference/anchors-*.md, plus an attention-shaped
   masked case. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* i[]: 0 rows, 1 cols, 2 mask rows (0: no mask), 3 mask dtype; f[]: 0 scale, 1 softcap */

typedef struct {
    mlxn_buffer *x, *mask, *y;
} sm_set;

static void free_set(void *p) {
    sm_set *s = p;
    if (!s) return;
    mlxn_buffer_free(s->x);
    mlxn_buffer_free(s->mask);
    mlxn_buffer_free(s->y);
    free(s);
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    sm_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    int64_t shp[2] = {c->i[0], c->i[1]}, ms[2] = {c->i[2], c->i[1]};
    mlxn_status st = bench_buffer(d, c->dtype, 2, shp, rng, -4.0, 4.0, 1, &s->x);
    if (!st) st = bench_buffer(d, c->dtype, 2, shp, rng, 0, 0, 0, &s->y);
    if (!st && c->i[2] > 0) st = bench_buffer(d, (mlxn_dtype)c->i[3], 2, ms, rng, -2.0, 0.0, 1, &s->mask);
    if (st) {
        free_set(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    sm_set *s = p;
    mlxn_softmax_params sp = {c->f[0], c->f[1]};
    return mlxn_softmax(e, s->x, s->mask, s->y, &sp);
}

static int add(bench_case *out, int n, int max, const char *name, mlxn_dtype t, int64_t rows, int64_t cols,
               int64_t mask_rows, mlxn_dtype mdt, float scale, float softcap, double peer_cuda, double peer_cpu) {
    if (n >= max) return n;
    bench_case *c = &out[n];
    memset(c, 0, sizeof *c);
    strncpy(c->name, name, sizeof c->name - 1);
    c->dtype = t;
    c->i[0] = rows; c->i[1] = cols; c->i[2] = mask_rows; c->i[3] = mdt;
    c->f[0] = scale; c->f[1] = softcap;
    c->bytes = 2.0 * (double)rows * (double)cols * (double)mlxn_dtype_size(t) +
               (double)mask_rows * (double)cols * (double)mlxn_dtype_size(mdt);
    c->peer_cuda_us = peer_cuda;
    c->peer_cpu_us = peer_cpu;
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return n + 1;
}

int bench_softmax_cases(bench_case *o, int max) {
    int n = 0;
    n = add(o, n, max, "SOFT_MAX f32 [4096,4096,5]", MLXN_F32, 4096 * 5, 4096, 0, MLXN_F32, 1.0f, 0.0f, 315.5, 67990);
    n = add(o, n, max, "SOFT_MAX f32 [131072,16]", MLXN_F32, 16, 131072, 0, MLXN_F32, 1.0f, 0.0f, 84.8, 0);
    n = add(o, n, max, "SOFT_MAX f32 [32768,1]", MLXN_F32, 1, 32768, 0, MLXN_F32, 1.0f, 0.0f, 0, 33.3);
    n = add(o, n, max, "SOFT_MAX f32 [1024,1024,10]", MLXN_F32, 1024 * 10, 1024, 0, MLXN_F32, 1.0f, 0.0f, 0, 0);
    /* attention scores of a 4096-token prefill chunk: 32 queries x 32 heads
       over 4096 keys, scale 1/sqrt(64), one f16 mask row per query */
    n = add(o, n, max, "SOFT_MAX f32 attn [4096,32,32] scale0.125 mask f16", MLXN_F32, 32 * 32, 4096, 32, MLXN_F16,
            0.125f, 0.0f, 0, 0);
    return n;
}
