/* bench_sort.c — sort cases of `mlxn bench`: ggml's test-backend-ops
   ARGSORT perf shape (ne = [n, rows] there, [rows, n] here) with the peer
   figure of shared/reference/anchors-h100.md, MoE-style short rows (256
   experts x 512 tokens), and top_k for sampling: one vocab row of 262144
   (decode) with k = 40 and k = 1024, and a batch of 64 rows of 32000 with
   k = 50. Each set carries its own workspace, sized by the op's
   workspace-size function on the bench device. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* i[]: 0 op (0 argsort, 1 top_k), 1 rows, 2 n, 3 k, 4 with val (0/1) */

typedef struct {
    mlxn_buffer *x, *idx, *val, *ws;
} sort_set;

static void free_set(void *p) {
    sort_set *s = p;
    if (!s) return;
    mlxn_buffer_free(s->x);
    mlxn_buffer_free(s->idx);
    mlxn_buffer_free(s->val);
    mlxn_buffer_free(s->ws);
    free(s);
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    sort_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    const int64_t rows = c->i[1], n = c->i[2], k = c->i[3];
    const int64_t shp[2] = {rows, n}, oshp[2] = {rows, c->i[0] == 0 ? n : k};
    size_t wb = 0;
    mlxn_status st = bench_buffer(d, c->dtype, 2, shp, rng, -4.0, 4.0, 1, &s->x);
    if (!st) st = bench_buffer(d, MLXN_I32, 2, oshp, rng, 0, 0, 0, &s->idx);
    if (!st && c->i[4]) st = bench_buffer(d, c->dtype, 2, oshp, rng, 0, 0, 0, &s->val);
    if (!st)
        st = c->i[0] == 0 ? mlxn_argsort_workspace_size(d, rows, n, c->dtype, &wb)
                          : mlxn_top_k_workspace_size(d, rows, n, (int32_t)k, c->dtype, &wb);
    if (!st && wb) {
        const int64_t wshape[1] = {(int64_t)wb};
        st = bench_buffer(d, MLXN_U8, 1, wshape, rng, 0, 0, 0, &s->ws);
    }
    if (st) {
        free_set(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    sort_set *s = p;
    if (c->i[0] == 0) {
        mlxn_argsort_params ap = {0};
        return mlxn_argsort(e, s->x, s->idx, s->ws, &ap);
    }
    mlxn_top_k_params tp = {(int32_t)c->i[3]};
    return mlxn_top_k(e, s->x, s->idx, s->val, s->ws, &tp);
}

static int add(bench_case *out, int n, int max, const char *name, int op, mlxn_dtype t, int64_t rows, int64_t cols,
               int64_t k, int with_val, double peer_cuda, double peer_cpu) {
    if (n >= max) return n;
    bench_case *c = &out[n];
    memset(c, 0, sizeof *c);
    strncpy(c->name, name, sizeof c->name - 1);
    c->dtype = t;
    c->i[0] = op;
    c->i[1] = rows;
    c->i[2] = cols;
    c->i[3] = k;
    c->i[4] = with_val;
    const double es = (double)mlxn_dtype_size(t), in = (double)rows * (double)cols * es;
    const double outn = (double)rows * (double)(op == 0 ? cols : k);
    c->bytes = in + outn * (4.0 + (with_val ? es : 0.0));
    c->peer_cuda_us = peer_cuda;
    c->peer_cpu_us = peer_cpu;
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return n + 1;
}

int bench_sort_cases(bench_case *o, int max) {
    int n = 0;
    n = add(o, n, max, "ARGSORT f32 [200000,16]", 0, MLXN_F32, 16, 200000, 0, 0, 1096, 0);
    n = add(o, n, max, "ARGSORT f32 [65000,16]", 0, MLXN_F32, 16, 65000, 0, 0, 0, 0);
    n = add(o, n, max, "ARGSORT f32 [256,512] (256 experts x 512 tokens)", 0, MLXN_F32, 512, 256, 0, 0, 0, 0);
    n = add(o, n, max, "TOP_K f32 [262144,1] k=40 (vocab decode)", 1, MLXN_F32, 1, 262144, 40, 1, 0, 0);
    n = add(o, n, max, "TOP_K f32 [262144,1] k=1024 (vocab decode)", 1, MLXN_F32, 1, 262144, 1024, 1, 0, 0);
    n = add(o, n, max, "TOP_K f32 [32000,64] k=50 (batch)", 1, MLXN_F32, 64, 32000, 50, 1, 0, 0);
    return n;
}
