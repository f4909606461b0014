/* bench_backward.c — backward cases of `mlxn bench`: each op on a
   [4096, 4096] f32 input (64 MB a tensor: far past every cache) and on a
   [512, 4096] one (8 MB: the size of a calibration batch's hidden states).
   No peer figures (ggml has no such ops; mlx-native reports none).

   Bytes per op: every input read once and every output written once:
     softmax_backward  y, dy, dx                    3 * 4 * N
     rms_inv           x, r                         4 * N + 4 * rows
     rms_norm_backward x, dy, dx (+ w, r, dw)       3 * 4 * N + 4 * (2 * dim + rows)
                       (dx only: + w, r)            3 * 4 * N + 4 * (dim + rows)
                       (the workspace's chunk sums stay on chip or in L2: not counted)
     unary_backward    x, dy, dx                    3 * 4 * N
     row_sum_backward  dy, dx                       4 * N + 4 * rows */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* i[]: 0 op (0 softmax_bw, 1 rms_inv, 2 rms_norm_bw (dx + dw, with w), 3 silu_bw,
        4 log_bw, 5 row_sum_bw, 6 rms_norm_bw (dx only, with w)), 1 rows, 2 n */

typedef struct {
    mlxn_buffer *a, *b, *w, *r, *o, *dw, *ws;
} bw_set;

static void free_set(void *p) {
    bw_set *s = p;
    if (!s) return;
    mlxn_buffer_free(s->a);
    mlxn_buffer_free(s->b);
    mlxn_buffer_free(s->w);
    mlxn_buffer_free(s->r);
    mlxn_buffer_free(s->o);
    mlxn_buffer_free(s->dw);
    mlxn_buffer_free(s->ws);
    free(s);
}

static mlxn_status make_set(const bench_case *c, mlxn_device *d, rng_t *rng, void **out) {
    bw_set *s = calloc(1, sizeof *s);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    const int op = (int)c->i[0];
    const int64_t rows = c->i[1], n = c->i[2];
    const int64_t shp[2] = {rows, n}, r1[1] = {rows}, n1[1] = {n};
    mlxn_status st = MLXN_OK;
    if (op == 5) {
        st = bench_buffer(d, MLXN_F32, 1, r1, rng, -1.0, 1.0, 1, &s->b);
    } else {
        /* x (or y) positive for log's sake; softmax's y need not sum to 1 for timing */
        st = bench_buffer(d, MLXN_F32, 2, shp, rng, op == 4 ? 0.5 : -1.0, op == 4 ? 2.0 : 1.0, 1, &s->a);
        if (!st && op != 1) st = bench_buffer(d, MLXN_F32, 2, shp, rng, -1.0, 1.0, 1, &s->b);
    }
    if (!st) {
        if (op == 1) st = bench_buffer(d, MLXN_F32, 1, r1, rng, 0, 0, 0, &s->o);
        else st = bench_buffer(d, MLXN_F32, 2, shp, rng, 0, 0, 0, &s->o);
    }
    if (!st && (op == 2 || op == 6)) {
        st = bench_buffer(d, MLXN_F32, 1, n1, rng, -1.0, 1.0, 1, &s->w);
        if (!st) st = bench_buffer(d, MLXN_F32, 1, r1, rng, 0.5, 2.0, 1, &s->r);
    }
    if (!st && op == 2) {
        st = bench_buffer(d, MLXN_F32, 1, n1, rng, 0, 0, 0, &s->dw);
        const int64_t wsz[1] = {(int64_t)mlxn_rms_norm_backward_workspace_size(d, rows, n)};
        if (!st) st = mlxn_buffer_new(d, MLXN_U8, 1, wsz, &s->ws);
    }
    if (st) {
        free_set(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status run(const bench_case *c, mlxn_encoder *e, void *p) {
    bw_set *s = p;
    switch (c->i[0]) {
    case 0: return mlxn_softmax_backward(e, s->a, s->b, s->o);
    case 1: {
        const mlxn_norm_params np = {1e-6f};
        return mlxn_rms_inv(e, s->a, s->o, &np);
    }
    case 2: return mlxn_rms_norm_backward(e, s->a, s->w, s->r, s->b, s->o, s->dw, s->ws);
    case 6: return mlxn_rms_norm_backward(e, s->a, s->w, s->r, s->b, s->o, NULL, NULL);
    case 3:
    case 4: {
        const mlxn_unary_params up = {c->i[0] == 3 ? MLXN_UNARY_SILU : MLXN_UNARY_LOG, 0.0f};
        return mlxn_unary_backward(e, s->a, s->b, s->o, &up);
    }
    default: return mlxn_row_sum_backward(e, s->b, s->o);
    }
}

static int add(bench_case *out, int n, int max, const char *name, int op, int64_t rows, int64_t cols) {
    if (n >= max) return n;
    bench_case *c = &out[n];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->dtype = MLXN_F32;
    c->i[0] = op;
    c->i[1] = rows;
    c->i[2] = cols;
    const double N = (double)rows * (double)cols * 4.0, R = 4.0 * (double)rows, D = 4.0 * (double)cols;
    switch (op) {
    case 1: c->bytes = N + R; break;
    case 2: c->bytes = 3.0 * N + 2.0 * D + R; break;
    case 6: c->bytes = 3.0 * N + D + R; break;
    case 5: c->bytes = N + R; break;
    default: c->bytes = 3.0 * N; break;
    }
    c->make_set = make_set;
    c->run = run;
    c->free_set = free_set;
    return n + 1;
}

int bench_backward_cases(bench_case *o, int max) {
    static const struct {
        const char *name;
        int op;
    } OPS[] = {{"SOFTMAX_BACK", 0}, {"RMS_INV", 1},  {"RMS_NORM_BACK dx+dw", 2},
               {"RMS_NORM_BACK dx", 6}, {"SILU_BACK", 3},    {"LOG_BACK", 4}, {"ROW_SUM_BACK", 5}};
    static const int64_t SH[2][2] = {{4096, 4096}, {512, 4096}};
    int n = 0;
    for (int k = 0; k < 7; k++)
        for (int s = 0; s < 2; s++) {
            char name[96];
            snprintf(name, sizeof name, "%s f32 [%lld,%lld]", OPS[k].name, (long long)SH[s][1], (long long)SH[s][0]);
            n = add(o, n, max, name, OPS[k].op, SH[s][0], SH[s][1]);
        }
    return n;
}
